"""Maintenance of ``core.diskobjectstore``: packing, clean-up and repack only when they have work, progress."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest
from disk_objectstore import Container
from provstore.exceptions import CorruptStorage, UnreachableStorage
from provstore_diskobjectstore.backend import DiskObjectStoreRepositoryBackend
from provstore_diskobjectstore.progress import Progress


@pytest.fixture
def repository(tmp_path: Path) -> DiskObjectStoreRepositoryBackend:
    """Return an initialised, empty repository with small packs."""
    repository = DiskObjectStoreRepositoryBackend(filepath=tmp_path / "c", pack_size_target=20_000)
    repository.initialise()
    return repository


def _put_many(repository: DiskObjectStoreRepositoryBackend, count: int) -> dict[str, bytes]:
    contents = [b"object %d " % index * 20 for index in range(count)]
    return {repository.put_object_from_filelike(io.BytesIO(content)): content for content in contents}


def test_live_maintenance_with_nothing_to_pack_says_so(repository) -> None:
    assert "pack_loose" not in repository.maintain(live=True, progress=False)["operations"]
    _put_many(repository, 3)
    assert repository.maintain(live=True, progress=False)["operations"]["pack_loose"]["objects"] == 3
    report = repository.maintain(live=True, progress=False)
    assert report["operations"] == {}
    assert (
        report["skipped"]["pack_loose"]
        == "nothing to pack (3 loose copies of packed objects wait for full maintenance)"
    )


def test_packing_fills_packs_to_their_target_and_keeps_every_object(repository) -> None:
    contents = _put_many(repository, 300)
    report = repository.maintain(live=False, progress=False)
    assert report["operations"]["pack_loose"] == {
        "objects": 300,
        "bytes": sum(map(len, contents.values())),
        "compress": False,
        "done": True,
    }
    info = repository.get_info(detailed=True)
    assert info["objects"] == {"loose": 0, "packed": 300}
    assert info["packs"] == len(os.listdir(repository._filepath / "packs")) > 3
    assert info["pack_statistics"]["unreferenced_bytes"] == 0
    sizes = [
        os.path.getsize(repository._filepath / "packs" / name) for name in os.listdir(repository._filepath / "packs")
    ]
    assert sorted(sizes)[1] >= 20_000  # every pack but the last one filled up to the target
    assert {key: repository.get_object_content(key) for key in contents} == contents
    assert Container(repository._filepath).validate().is_valid()


def test_full_maintenance_repacks_only_packs_with_waste(repository) -> None:
    keys = repository.put_objects_from_filelikes([io.BytesIO(b"%04d" % index * 250) for index in range(60)])
    report = repository.maintain(live=False, progress=False)
    assert "repack" not in report["operations"] and report["skipped"]["repack"] == "nothing to reclaim"
    before = {
        name: (repository._filepath / "packs" / name).stat().st_ino
        for name in os.listdir(repository._filepath / "packs")
    }
    repository.delete_objects(keys[:3])  # in the first pack
    report = repository.maintain(live=False, progress=False)
    assert report["operations"]["repack"] == {"packs": 1, "reclaimable_bytes": 3000, "done": True}
    after = {
        name: (repository._filepath / "packs" / name).stat().st_ino
        for name in os.listdir(repository._filepath / "packs")
    }
    assert [name for name in before if after[name] != before[name]] == ["0"]  # the others were left alone
    assert repository.get_info(detailed=True)["pack_statistics"]["unreferenced_bytes"] == 0
    assert repository.has_objects(keys) == [False] * 3 + [True] * 57


def test_a_loose_object_with_the_wrong_content_is_not_packed(repository) -> None:
    key = repository.put_object_from_filelike(io.BytesIO(b"original"))
    (repository._filepath / "loose" / key[:2] / key[2:]).write_bytes(b"tampered")
    with pytest.raises(CorruptStorage, match=f"loose object {key} does not hash to its key"):
        repository.maintain(live=True, progress=False)
    assert repository.get_info()["objects"]["packed"] == 0
    assert os.listdir(repository._filepath / "packs") == ["0"]  # no lock file left behind


def test_a_pack_locked_by_another_writer_is_a_clear_error(repository, monkeypatch) -> None:
    _put_many(repository, 2)
    monkeypatch.setattr(type(repository), "_clean_after_dead_pack_writer", lambda self: None)  # a live writer
    (repository._filepath / "packs" / "0.lock").touch()
    with pytest.raises(UnreachableStorage, match=r"pack 0 of .* is locked by another writer"):
        repository.maintain(live=True, progress=False)


def test_progress_bar_with_counts_on_request_and_none_off_a_terminal(repository, capsys) -> None:
    _put_many(repository, 5)
    repository.maintain(live=True)  # stderr is not a terminal here
    assert capsys.readouterr().err == ""
    key = repository.put_object_from_filelike(io.BytesIO(b"one more"))
    repository.maintain(live=False, progress=True)
    err = capsys.readouterr().err
    assert "packing loose objects [" in err and "] 1/1" in err
    assert "deleting packed loose copies [" in err and "6/6" in err
    assert repository.get_object_content(key) == b"one more"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_on_a_terminal_only() -> None:
    terminal, pipe = _Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        with Progress("work", 4, stream=stream) as bar:
            for _ in range(4):
                bar.advance()
    assert terminal.getvalue().endswith("\rwork [" + "#" * 30 + "] 4/4\n")
    assert pipe.getvalue() == ""


def test_dry_run_counts_only_what_is_not_packed(repository) -> None:
    _put_many(repository, 4)
    repository.maintain(live=True, progress=False)
    new = repository.put_object_from_filelike(io.BytesIO(b"new"))
    report = repository.maintain(live=True, dry_run=True, progress=False)
    assert report["operations"]["pack_loose"] == {"objects": 1, "bytes": 3, "compress": False, "done": False}
    assert repository.get_info()["objects"] == {"loose": 5, "packed": 4}
    assert hashlib.sha256(b"new").hexdigest() == new
