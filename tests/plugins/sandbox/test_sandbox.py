"""Behaviour specific to ``core.sandbox``: the folder's life cycle and its configuration."""

from __future__ import annotations

import gc
import io
import os
from pathlib import Path

import pytest
from provstore.exceptions import ConfigurationError, UnreachableStorage
from provstore_sandbox.backend import SandboxRepositoryBackend


def test_folder_created_in_configured_parent(tmp_path: Path) -> None:
    parent = tmp_path / "not" / "yet" / "there"
    repository = SandboxRepositoryBackend.from_config({"filepath": str(parent)})
    assert not repository.is_initialised
    repository.initialise()
    assert repository.folder is not None and repository.folder.parent == parent


def test_first_write_creates_folder(tmp_path: Path) -> None:
    repository = SandboxRepositoryBackend(filepath=tmp_path)
    key = repository.put_object_from_filelike(io.BytesIO(b"lazy"))
    assert repository.is_initialised and repository.get_object_content(key) == b"lazy"


def test_erase_removes_folder(tmp_path: Path) -> None:
    repository = SandboxRepositoryBackend(filepath=tmp_path)
    repository.put_object_from_filelike(io.BytesIO(b"x"))
    folder = repository.folder
    repository.erase()
    assert folder is not None and not folder.exists()
    assert list(tmp_path.iterdir()) == []


def test_garbage_collection_removes_folder(tmp_path: Path) -> None:
    repository = SandboxRepositoryBackend(filepath=tmp_path)
    repository.put_object_from_filelike(io.BytesIO(b"x"))
    folder = repository.folder
    del repository
    gc.collect()
    assert folder is not None and not folder.exists()


def test_sha256_keys_deduplicate_and_leave_no_temporary_files(tmp_path: Path) -> None:
    repository = SandboxRepositoryBackend(filepath=tmp_path, key_format="sha256")
    keys = {repository.put_object_from_filelike(io.BytesIO(b"same")) for _ in range(3)}
    assert len(keys) == 1
    assert repository.folder is not None and os.listdir(repository.folder / "incoming") == []


def test_invalid_configuration_is_one_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="key_format"):
        SandboxRepositoryBackend.from_config({"key_format": "md5"})


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only folders")
def test_unwritable_parent_is_unreachable(tmp_path: Path) -> None:
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(UnreachableStorage, match="cannot create a sandbox folder"):
            SandboxRepositoryBackend(filepath=tmp_path).initialise()
    finally:
        tmp_path.chmod(0o700)


def test_parent_that_is_a_file_is_unreachable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    with pytest.raises(UnreachableStorage, match="cannot create a sandbox folder"):
        SandboxRepositoryBackend(filepath=blocker).initialise()
