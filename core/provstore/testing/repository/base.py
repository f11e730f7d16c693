"""What every repository area class shares: the backend's declared capabilities and a byte stream for tests."""

from __future__ import annotations

import hashlib
import io
import random
from typing import Any, ClassVar

from provstore.repository import AbstractRepositoryBackend

__all__ = ["MiB", "PatternStream", "RepositoryTests", "put", "sha256"]

MiB = 1024 * 1024


class PatternStream(io.RawIOBase):
    """A readable byte stream of ``size`` pseudo-random bytes made on the fly, never held in memory at once.

    It records the SHA-256 of what it served and the largest read requested, so a test can check that a
    backend stored the right bytes and read the stream in bounded chunks.
    """

    def __init__(self, size: int, seed: int = 0) -> None:
        self._remaining = size
        self._block = random.Random(seed).randbytes(MiB)
        self._position = 0
        self.served = hashlib.sha256()
        self.largest_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        self.largest_read = max(self.largest_read, len(view))
        count = min(len(view), self._remaining, MiB - self._position % MiB)
        start = self._position % MiB
        view[:count] = self._block[start : start + count]
        self.served.update(view[:count])
        self._position += count
        self._remaining -= count
        return count


def put(repository: AbstractRepositoryBackend, content: bytes) -> str:
    """Store ``content`` with a single write and return its key."""
    return repository.put_object_from_filelike(io.BytesIO(content))


class RepositoryTests:
    """Base of the repository area classes: set ``backend`` and the capabilities your backend declares."""

    backend: ClassVar[str | None] = None
    """Name of the repository backend under test, e.g. ``"acme.blobs"``."""

    content_addressed: ClassVar[bool] = True
    """Keys are the SHA-256 hex digest of the content (identical content gives one object)."""

    has_uuid: ClassVar[bool] = True
    """The repository has a persistent unique identifier (``uuid`` is a string, not None)."""

    key_format: ClassVar[str] = "sha256"
    """The ``key_format`` the repository reports (``"sha256"``, ``"uuid4"``, or your own name)."""


def sha256(content: bytes) -> str:
    """Return the hex SHA-256 digest of ``content``."""
    return hashlib.sha256(content).hexdigest()
