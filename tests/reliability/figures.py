"""Figures of the reliability run (operations, processes, kills, inputs tried), printed at the end of the session."""

from __future__ import annotations

from collections import Counter

FIGURES: Counter[str] = Counter()
"""Name -> count, added to by the tests; ``conftest.pytest_terminal_summary`` prints it."""


def record(name: str, count: int = 1) -> None:
    """Add ``count`` to the figure ``name``."""
    FIGURES[name] += count
