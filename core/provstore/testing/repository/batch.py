"""``put_objects_from_filelikes`` writes many objects and returns their keys in input order, as single writes would."""

from __future__ import annotations

import hashlib
import io

from provstore.repository import AbstractRepositoryBackend
from provstore.testing.capabilities import requires
from provstore.testing.repository.base import RepositoryTests, put

__all__ = ["BatchTests"]

UNSAFE_KEYS = ["../x", "..", ".", "/etc/passwd", "a/b", "a\\b", "a\x00b", "", "x" * 256, "line\nbreak"]


class BatchTests(RepositoryTests):
    """``put_objects_from_filelikes`` writes many objects and returns their keys in input order, as single writes would.

    ``put_objects_from_filelikes`` writes many objects and returns their keys in input order, as single writes
    would.
    """

    def test_batch_write(self, provstore_repository: AbstractRepositoryBackend) -> None:
        contents = [f"batch object {index}".encode() * (index + 1) for index in range(50)]
        keys = provstore_repository.put_objects_from_filelikes(io.BytesIO(content) for content in contents)
        assert len(keys) == len(contents)
        assert [provstore_repository.get_object_content(key) for key in keys] == contents
        assert provstore_repository.put_objects_from_filelikes([]) == []

    @requires("content_addressed")
    def test_batch_keys_equal_single_write_keys(self, provstore_repository: AbstractRepositoryBackend) -> None:
        single = [put(provstore_repository, content) for content in (b"a", b"b")]
        batch = provstore_repository.put_objects_from_filelikes([io.BytesIO(b"a"), io.BytesIO(b"b"), io.BytesIO(b"c")])
        assert batch[:2] == single
        assert batch[2] == hashlib.sha256(b"c").hexdigest()
        assert sorted(provstore_repository.list_objects()) == sorted({*single, batch[2]})
