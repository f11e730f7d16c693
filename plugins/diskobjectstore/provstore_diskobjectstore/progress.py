"""A progress bar with counts for long maintenance steps, drawn on a terminal only."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress"]

_WIDTH = 30
_INTERVAL = 0.1
"""Seconds between two redraws."""


class Progress:
    """Draw ``description [#####.....] done/total`` on ``stream`` while a step runs; nothing if it is not a tty.

    Use as a context manager and call :meth:`advance`; the finished bar stays on its own line.
    """

    def __init__(self, description: str, total: int, *, enabled: bool | None = None, stream: TextIO | None = None):
        self._stream = sys.stderr if stream is None else stream
        self._enabled = (self._stream.isatty() if enabled is None else enabled) and total > 0
        self._description = description
        self._total = total
        self._done = 0
        self._drawn_at = 0.0

    def __enter__(self) -> Progress:
        self._draw()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._enabled:
            self._draw()
            self._stream.write("\n")
            self._stream.flush()

    def advance(self, count: int = 1) -> None:
        """Count ``count`` more items done; redraw at most every tenth of a second."""
        self._done += count
        if self._enabled and time.monotonic() - self._drawn_at >= _INTERVAL:
            self._draw()

    def _draw(self) -> None:
        """Write the bar over the current line."""
        if not self._enabled:
            return
        filled = _WIDTH * min(self._done, self._total) // self._total
        self._stream.write(
            f"\r{self._description} [{'#' * filled}{'.' * (_WIDTH - filled)}] {self._done:,}/{self._total:,}"
        )
        self._stream.flush()
        self._drawn_at = time.monotonic()
