"""A new repository is initialised and empty, reports its key format and identity, and validates its configuration."""

from __future__ import annotations

import pytest

from provstore.exceptions import ConfigurationError
from provstore.repository import AbstractRepositoryBackend
from provstore.testing.capabilities import requires
from provstore.testing.repository.base import RepositoryTests, put, sha256

__all__ = ["IdentityTests"]

UNSAFE_KEYS = ["../x", "..", ".", "/etc/passwd", "a/b", "a\\b", "a\x00b", "", "x" * 256, "line\nbreak"]


class IdentityTests(RepositoryTests):
    """A new repository is initialised and empty, reports its key format and identity, and validates its configuration.

    A new repository is initialised and empty, reports its key format and identity, and validates its
    configuration.
    """

    def test_is_initialised_and_empty(self, provstore_repository: AbstractRepositoryBackend) -> None:
        assert provstore_repository.is_initialised
        assert list(provstore_repository.list_objects()) == []
        provstore_repository.initialise()  # initialising again is harmless
        assert provstore_repository.is_initialised

    def test_key_format(self, provstore_repository: AbstractRepositoryBackend) -> None:
        assert isinstance(provstore_repository.key_format, str) and provstore_repository.key_format

    @requires("content_addressed")
    def test_key_format_is_sha256(self, provstore_repository: AbstractRepositoryBackend) -> None:
        assert provstore_repository.key_format == "sha256"

    def test_uuid_type(self, provstore_repository: AbstractRepositoryBackend) -> None:
        assert provstore_repository.uuid is None or isinstance(provstore_repository.uuid, str)

    @requires("has_uuid")
    def test_uuid_is_stable(self, provstore_repository: AbstractRepositoryBackend) -> None:
        assert isinstance(provstore_repository.uuid, str) and provstore_repository.uuid
        put(provstore_repository, b"content")
        assert provstore_repository.uuid == provstore_repository.uuid

    def test_from_config_rejects_unknown_setting(self, provstore_repository: AbstractRepositoryBackend) -> None:
        with pytest.raises(ConfigurationError, match="no_such_setting"):
            type(provstore_repository).from_config({"no_such_setting": 1})

    def test_key_format_is_the_declared_one(self, provstore_repository: AbstractRepositoryBackend) -> None:
        assert provstore_repository.key_format == self.key_format
        key = put(provstore_repository, b"format")
        if self.key_format == "sha256":
            assert key == sha256(b"format")
        elif self.key_format == "uuid4":
            import uuid

            assert uuid.UUID(key).version == 4
