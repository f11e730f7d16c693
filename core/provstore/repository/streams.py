"""A base for the read-only raw streams repository backends return: ``readall`` and ``readinto`` from ``read``."""

from __future__ import annotations

import io
from typing import Any

__all__ = ["RawReader"]


class RawReader(io.RawIOBase):
    """A readable raw stream whose subclasses define only ``read`` (and, if they can, seeking)."""

    def readable(self) -> bool:
        """Return True: the stream can be read."""
        return True

    def readall(self) -> bytes:
        """Return all the bytes up to the end of the stream."""
        return self.read()

    def readinto(self, buffer: Any) -> int:
        """Read into ``buffer`` (any writable bytes-like object) and return how many bytes were read."""
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)
