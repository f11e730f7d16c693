"""A large object is written and read in bounded chunks and bounded Python memory, and hashes correctly."""

from __future__ import annotations

import hashlib
import tracemalloc

from provstore.repository import AbstractRepositoryBackend
from provstore.testing.repository.base import MiB, PatternStream, RepositoryTests

__all__ = ["StreamingTests"]

UNSAFE_KEYS = ["../x", "..", ".", "/etc/passwd", "a/b", "a\\b", "a\x00b", "", "x" * 256, "line\nbreak"]


class StreamingTests(RepositoryTests):
    """A large object is written and read in bounded chunks and bounded Python memory, and hashes correctly."""

    def test_large_object_streams_with_bounded_memory(self, provstore_repository: AbstractRepositoryBackend) -> None:
        size = 64 * MiB
        stream = PatternStream(size, seed=7)
        tracemalloc.start()
        try:
            key = provstore_repository.put_object_from_filelike(stream)  # type: ignore[arg-type]
            write_peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.reset_peak()
            digest, read = hashlib.sha256(), 0
            with provstore_repository.open(key) as handle:
                while chunk := handle.read(MiB):
                    digest.update(chunk)
                    read += len(chunk)
            read_peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert 0 < stream.largest_read <= 16 * MiB, "the handle must be read in bounded chunks"
        assert write_peak < 16 * MiB, f"writing 64 MiB peaked at {write_peak / MiB:.1f} MiB of Python memory"
        assert read_peak < 16 * MiB, f"reading 64 MiB peaked at {read_peak / MiB:.1f} MiB of Python memory"
        assert read == size
        assert digest.hexdigest() == stream.served.hexdigest() == provstore_repository.get_object_hash(key)
