"""Tests of acme.sqliteblobs: the provstore conformance kit, plus what is specific to this backend."""

from __future__ import annotations

import io
from typing import Any

import pytest
from provstore.exceptions import ConfigurationError
from provstore.testing import RepositoryBackendTests, StorageBackendTests
from provstore_sqlite_blobs.backend import SqliteBlobRepositoryBackend


class TestSqliteStore(StorageBackendTests):
    """The whole storage contract; the kit fills the required ``filepath`` with a fresh folder per store."""

    backend = "acme.sqlitestore"
    supports_concurrent_threads = True  # every capability is declared, even where it keeps the default


class TestSqliteBlobs(RepositoryBackendTests):
    """Every behaviour the built-in repository backends have (the kit builds the config from the file path)."""

    backend = "acme.sqliteblobs"


@pytest.fixture
def small_chunks(tmp_path) -> SqliteBlobRepositoryBackend:
    """A repository that stores at most 4 bytes per chunk, so every object spans several chunk rows."""
    repository = SqliteBlobRepositoryBackend.from_config({"filepath": str(tmp_path / "blobs.sqlite"), "chunk_size": 4})
    repository.initialise()
    yield repository
    repository.close()


def test_content_is_split_into_chunks(small_chunks: SqliteBlobRepositoryBackend) -> None:
    key = small_chunks.put_object_from_filelike(io.BytesIO(b"0123456789"))
    assert small_chunks.get_info(detailed=True)["chunks"] == 3
    assert small_chunks.get_object_content(key) == b"0123456789"


def test_identical_content_is_stored_once(small_chunks: SqliteBlobRepositoryBackend) -> None:
    first = small_chunks.put_object_from_filelike(io.BytesIO(b"same bytes"))
    second = small_chunks.put_object_from_filelike(io.BytesIO(b"same bytes"))
    assert first == second
    info = small_chunks.get_info(detailed=True)
    assert (info["objects"], info["chunks"]) == (1, 3)


def test_failed_write_leaves_nothing(small_chunks: SqliteBlobRepositoryBackend) -> None:
    class Broken(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            raise OSError("disk on fire")

    with pytest.raises(OSError, match="disk on fire"):
        small_chunks.put_object_from_filelike(io.BufferedReader(Broken()))
    assert small_chunks.get_info(detailed=True)["chunks"] == 0


@pytest.mark.parametrize("config", [{}, {"filepath": "x", "chunk_size": 0}, {"filepath": "x", "colour": "red"}])
def test_invalid_configuration_is_one_clear_error(config: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match="SqliteBlobRepositoryBackend"):
        SqliteBlobRepositoryBackend.from_config(config)
