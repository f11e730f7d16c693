"""Key validation: keys that could escape the store are refused by every method."""

from __future__ import annotations

import pytest

from provstore.exceptions import ValidationError
from provstore.repository import AbstractRepositoryBackend
from provstore.testing.repository.base import RepositoryTests

__all__ = ["KeyValidationTests"]

UNSAFE_KEYS = ["../x", "..", ".", "/etc/passwd", "a/b", "a\\b", "a\x00b", "", "x" * 256, "line\nbreak"]


class KeyValidationTests(RepositoryTests):
    """Key validation: keys that could escape the store are refused by every method.

    Keys that could escape the store (paths, separators, NUL, empty, overlong) are refused with
    ``ValidationError`` by every method.
    """

    @pytest.mark.parametrize("key", UNSAFE_KEYS, ids=repr)
    def test_unsafe_keys_are_rejected(self, provstore_repository: AbstractRepositoryBackend, key: str) -> None:
        with pytest.raises(ValidationError):
            provstore_repository.has_object(key)
        with pytest.raises(ValidationError):
            provstore_repository.get_object_content(key)
        with pytest.raises(ValidationError):
            provstore_repository.get_object_hash(key)
        with pytest.raises(ValidationError):
            provstore_repository.delete_objects([key])
        with pytest.raises(ValidationError):
            dict(provstore_repository.iter_object_streams([key]))
