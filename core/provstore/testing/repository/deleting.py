"""``delete_object(s)`` removes exactly the given objects, all or none."""

from __future__ import annotations

import hashlib

import pytest

from provstore.repository import AbstractRepositoryBackend
from provstore.testing.repository.base import RepositoryTests, put

__all__ = ["DeletionTests"]

UNSAFE_KEYS = ["../x", "..", ".", "/etc/passwd", "a/b", "a\\b", "a\x00b", "", "x" * 256, "line\nbreak"]


class DeletionTests(RepositoryTests):
    """``delete_object(s)`` removes exactly the given objects, all or none."""

    def test_delete_objects(self, provstore_repository: AbstractRepositoryBackend) -> None:
        keep, *gone = (put(provstore_repository, f"delete {index}".encode()) for index in range(4))
        provstore_repository.delete_objects(gone[:2])
        provstore_repository.delete_object(gone[2])
        assert provstore_repository.has_objects([keep, *gone]) == [True, False, False, False]
        assert list(provstore_repository.list_objects()) == [keep]

    def test_delete_with_a_missing_key_deletes_nothing(self, provstore_repository: AbstractRepositoryBackend) -> None:
        present = [put(provstore_repository, b"one"), put(provstore_repository, b"two")]
        missing = hashlib.sha256(b"not here").hexdigest()
        with pytest.raises(FileNotFoundError, match=missing):
            provstore_repository.delete_objects([present[0], missing, present[1]])
        assert provstore_repository.has_objects(present) == [True, True]
