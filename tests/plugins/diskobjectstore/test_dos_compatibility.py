"""Containers stay disk-objectstore's: it validates every container provstore wrote, and provstore reads its own."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from disk_objectstore import CompressMode, Container
from provstore_diskobjectstore.backend import DiskObjectStoreRepositoryBackend

DOSTORE = Path(sys.executable).parent / "dostore"
CONTENTS = [b"", b"tiny", b"compressible " * 5000, bytes(range(256)) * 600]


def _validate(folder: Path) -> None:
    """Assert that disk-objectstore's ``Container.validate()`` and ``dostore validate`` accept the container."""
    with Container(folder) as container:
        issues = container.validate()
        assert issues.is_valid(), issues
    done = subprocess.run(
        [str(DOSTORE), "--path", str(folder), "validate"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and "No errors found" in done.stdout, done.stdout + done.stderr


def _loose(repository: DiskObjectStoreRepositoryBackend) -> None:
    pass


def _packed_live(repository: DiskObjectStoreRepositoryBackend) -> None:
    repository.maintain(live=True, progress=False)


def _packed_compressed(repository: DiskObjectStoreRepositoryBackend) -> None:
    repository.maintain(live=True, compress=True, progress=False)


def _fully_maintained_after_deletion(repository: DiskObjectStoreRepositoryBackend) -> None:
    repository.maintain(live=True, progress=False)
    repository.delete_objects([repository.put_objects_from_filelikes([io.BytesIO(b"deleted later")])[0]])
    repository.maintain(live=False, compress=True, progress=False)


def _batch_written(repository: DiskObjectStoreRepositoryBackend) -> None:
    repository.put_objects_from_filelikes([io.BytesIO(b"batch %d" % index) for index in range(30)])


STATES: dict[str, Callable[[DiskObjectStoreRepositoryBackend], None]] = {
    "loose": _loose,
    "packed": _packed_live,
    "packed-compressed": _packed_compressed,
    "after-full-maintenance": _fully_maintained_after_deletion,
    "batch-written": _batch_written,
}


@pytest.mark.parametrize("prefix", [2, 0])
@pytest.mark.parametrize("state", list(STATES))
def test_disk_objectstore_validates_and_reads_what_provstore_wrote(tmp_path: Path, state: str, prefix: int) -> None:
    repository = DiskObjectStoreRepositoryBackend(
        filepath=tmp_path / "c", loose_prefix_len=prefix, pack_size_target=20_000
    )
    repository.initialise()
    keys = [repository.put_object_from_filelike(io.BytesIO(content)) for content in CONTENTS]
    STATES[state](repository)
    repository.close()
    _validate(tmp_path / "c")
    with Container(tmp_path / "c") as container:
        assert [container.get_object_content(key) for key in keys] == CONTENTS
    if state == "after-full-maintenance":
        info = repository.get_info(detailed=True)
        assert info["objects"] == {"loose": 0, "packed": len(CONTENTS)}
        assert info["pack_statistics"]["unreferenced_bytes"] == 0


@pytest.mark.parametrize("compression", ["zlib+1", "zlib+9"])
@pytest.mark.parametrize("prefix", [2, 0, 3])
def test_provstore_reads_what_disk_objectstore_wrote(tmp_path: Path, prefix: int, compression: str) -> None:
    folder = tmp_path / "c"
    with Container(folder) as container:
        container.init_container(loose_prefix_len=prefix, compression_algorithm=compression, pack_size_target=2_000)
        loose = [container.add_object(content) for content in CONTENTS]
        container.pack_all_loose(compress=CompressMode.YES)  # packed and compressed, loose copies still there
        container.clean_storage()  # loose copies gone: reads come from the packs
        packed_raw = container.add_objects_to_pack([b"raw %d" % index for index in range(40)], compress=False)
        packed_zlib = container.add_objects_to_pack([b"zlib %d " % index * 300 for index in range(40)], compress=True)
        still_loose = container.add_object(b"stays loose")
        counts = container.count_objects()
    assert counts.loose == 1 and counts.pack_files > 1
    expected = dict(zip(loose, CONTENTS, strict=True))
    expected.update({key: b"raw %d" % index for index, key in enumerate(packed_raw)})
    expected.update({key: b"zlib %d " % index * 300 for index, key in enumerate(packed_zlib)})
    expected[still_loose] = b"stays loose"
    repository = DiskObjectStoreRepositoryBackend(filepath=folder)
    assert {key: repository.get_object_content(key) for key in expected} == expected
    for key, content in expected.items():
        with repository.open(key) as handle:
            assert handle.read() == content
    assert {key: stream.read() for key, stream in repository.iter_object_streams(list(expected))} == expected
    assert repository.has_objects([*expected, hashlib.sha256(b"absent").hexdigest()]) == [True] * len(expected) + [
        False
    ]
    assert sorted(repository.list_objects()) == sorted(expected)


# A packer process: packs and deletes the loose copies (no repack, which is refused while the store is in use),
# in rounds, printing when it started and stopped.
PACK_AND_CLEAN = r"""
import io, json, os, sys, time
from provstore_diskobjectstore.backend import DiskObjectStoreRepositoryBackend
folder, go = sys.argv[1], sys.argv[2]
repository = DiskObjectStoreRepositoryBackend(filepath=folder, pack_size_target=200_000)
while not os.path.exists(go):
    time.sleep(0.005)
start = time.time()
repository.maintain(live=False, do_repack=False, do_vacuum=False, progress=False)
print(json.dumps([start, time.time()]))
"""


@pytest.mark.slow
def test_reads_while_another_process_packs_and_deletes_loose_copies(tmp_path: Path) -> None:
    """Every read returns the right bytes while a loose object moves into a pack and its loose file goes."""
    repository = DiskObjectStoreRepositoryBackend(filepath=tmp_path / "c", pack_size_target=200_000)
    repository.initialise()
    contents = {}
    for index in range(3000):
        content = b"object %d " % index * (1 + index % 50)
        contents[repository.put_object_from_filelike(io.BytesIO(content))] = content
    keys, go = list(contents), tmp_path / "go"
    packer = subprocess.Popen(
        [sys.executable, "-c", PACK_AND_CLEAN, str(tmp_path / "c"), str(go)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(0.5)
    go.touch()
    moments = []
    while packer.poll() is None:
        for key in keys[::5]:
            assert repository.get_object_content(key) == contents[key]
            with repository.open(key) as handle:
                assert handle.read() == contents[key]
            moments.append(time.time())
        assert all(contents[key] == stream.read() for key, stream in repository.iter_object_streams(keys[1::5]))
        assert all(repository.has_objects(keys[2::5]))
    stdout, stderr = packer.communicate()
    assert packer.returncode == 0, stderr
    start, stop = json.loads(stdout)
    assert any(start <= moment <= stop for moment in moments), "no read overlapped the packing"
    assert repository.get_info()["objects"] == {"loose": 0, "packed": len(contents)}
    assert {key: repository.get_object_content(key) for key in keys} == contents
    _validate(tmp_path / "c")
