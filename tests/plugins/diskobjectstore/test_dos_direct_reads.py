"""``core.diskobjectstore`` reads containers of the pinned format itself, and others through disk-objectstore."""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import subprocess
import sys
import tracemalloc
from pathlib import Path

import disk_objectstore
import pytest
from disk_objectstore import Container
from provstore.exceptions import CorruptStorage
from provstore_diskobjectstore.backend import DiskObjectStoreRepositoryBackend
from provstore_diskobjectstore.layout import CONTAINER_VERSIONS, INDEX_COLUMNS, read_layout

MiB = 1024 * 1024


@pytest.fixture
def repository(tmp_path: Path) -> DiskObjectStoreRepositoryBackend:
    """Return an initialised, empty repository with compression on (what gets packed may be compressed)."""
    repository = DiskObjectStoreRepositoryBackend(filepath=tmp_path / "container", compression=True)
    repository.initialise()
    return repository


def _config(repository: DiskObjectStoreRepositoryBackend) -> dict:
    return json.loads((repository._filepath / "config.json").read_text())


def test_pinned_format_is_the_one_disk_objectstore_writes(tmp_path: Path) -> None:
    """The installed disk-objectstore still writes container version 1 with the index columns read directly."""
    container = Container(tmp_path / "c")
    container.init_container()
    config = json.loads((tmp_path / "c" / "config.json").read_text())
    assert config["container_version"] in CONTAINER_VERSIONS == {1}, disk_objectstore.__version__
    index = sqlite3.connect(tmp_path / "c" / "packs.idx")
    assert {row[1] for row in index.execute("PRAGMA table_info(db_object)")} == INDEX_COLUMNS
    index.close()
    assert read_layout(tmp_path / "c", config) is not None


@pytest.mark.parametrize(
    "change",
    [{"container_version": 2}, {"compression_algorithm": "zstd+3"}, {"loose_prefix_len": "2"}],
    ids=["version", "algorithm", "prefix"],
)
def test_other_formats_are_not_read_directly(repository, change: dict) -> None:
    assert read_layout(repository._filepath, {**_config(repository), **change}) is None


def test_index_without_the_pinned_columns_is_not_read_directly(repository) -> None:
    index = sqlite3.connect(repository._filepath / "packs.idx")
    index.execute("ALTER TABLE db_object RENAME COLUMN size TO uncompressed_size")
    index.commit()
    index.close()
    assert read_layout(repository._filepath, _config(repository)) is None


# Reads objects of every kind and the info, and reports whether disk_objectstore was imported to do so.
READS = r"""
import json, sys
from provstore_diskobjectstore.backend import DiskObjectStoreRepositoryBackend
repository = DiskObjectStoreRepositoryBackend(filepath=sys.argv[1])
expected = json.loads(sys.argv[2])
read = {key: repository.get_object_content(key).decode() for key in expected}
for key in expected:
    with repository.open(key) as handle:
        assert handle.read().decode() == expected[key]
assert {key: stream.read().decode() for key, stream in repository.iter_object_streams(list(expected))} == expected
assert repository.has_objects(list(expected)) == [True] * len(expected)
assert repository.get_info(detailed=True)["objects"]["packed"] == 3
print(json.dumps([read == expected, "disk_objectstore" in sys.modules, "sqlalchemy" in sys.modules]))
"""


def _read_in_a_process(repository: DiskObjectStoreRepositoryBackend, expected: dict[str, str]) -> list[bool]:
    done = subprocess.run(
        [sys.executable, "-c", READS, str(repository._filepath), json.dumps(expected)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _store_loose_packed_compressed(repository: DiskObjectStoreRepositoryBackend) -> dict[str, str]:
    """Store objects that end up packed (one compressed), then one loose; return their contents by key."""
    contents = ["packed " * 3, "compressed " * 2000, "also packed"]
    expected = {repository.put_object_from_filelike(io.BytesIO(c.encode())): c for c in contents}
    repository.maintain(live=False, progress=False)
    expected[repository.put_object_from_filelike(io.BytesIO(b"loose"))] = "loose"
    return expected


def test_reads_of_the_pinned_format_need_neither_disk_objectstore_nor_sqlalchemy(repository) -> None:
    expected = _store_loose_packed_compressed(repository)
    assert repository.get_info(detailed=True)["size_bytes"]["packed_on_disk"] < 2000  # one object is compressed
    assert _read_in_a_process(repository, expected) == [True, False, False]


def test_other_versions_are_read_through_disk_objectstore(repository) -> None:
    expected = _store_loose_packed_compressed(repository)
    path = repository._filepath / "config.json"
    path.write_text(json.dumps({**_config(repository), "container_version": 2}))
    assert _read_in_a_process(repository, expected) == [True, True, True]
    repository.put_object_from_filelike(io.BytesIO(b"new loose"))
    report = repository.maintain(live=False, progress=False)  # through disk-objectstore's own maintenance
    assert report["operations"]["pack_loose"]["done"]
    assert repository.get_info()["objects"]["loose"] == 0


def test_maintenance_through_disk_objectstore_reports_no_step_with_nothing_to_do(repository) -> None:
    """An other-version container with nothing loose and no waste: packing and repacking are skipped, not done."""
    _store_loose_packed_compressed(repository)
    repository.maintain(live=False, progress=False)
    path = repository._filepath / "config.json"
    path.write_text(json.dumps({**_config(repository), "container_version": 2}))
    live = repository.maintain(live=True, progress=False)
    assert (live["operations"], live["skipped"]["pack_loose"]) == ({}, "nothing to pack")
    full = repository.maintain(live=False, progress=False)
    assert set(full["operations"]) == {"clean_storage"}
    assert (full["skipped"]["pack_loose"], full["skipped"]["repack"]) == ("nothing to pack", "nothing to reclaim")


def test_a_reader_sees_objects_packed_and_cleaned_by_another_instance(repository) -> None:
    key = repository.put_object_from_filelike(io.BytesIO(b"moves into a pack"))
    assert repository.get_object_content(key) == b"moves into a pack"  # the reader and its index are prepared
    other = DiskObjectStoreRepositoryBackend(filepath=repository._filepath)
    other.maintain(live=False, progress=False)
    assert repository.get_info()["objects"] == {"loose": 0, "packed": 1}
    assert repository.get_object_content(key) == b"moves into a pack"
    assert repository.has_objects([key]) == [True]
    assert [k for k, _ in repository.iter_object_streams([key])] == [key]


def test_compressed_objects_decompress_as_they_stream(repository) -> None:
    content = b"".join(b"line %08d of a compressible file\n" % index for index in range(300_000))  # 10 MiB
    key = repository.put_object_from_filelike(io.BytesIO(content))
    repository.maintain(live=True, progress=False)
    assert repository.get_info(detailed=True)["size_bytes"]["packed_on_disk"] < len(content) / 4
    os.unlink(repository._filepath / "loose" / key[:2] / key[2:])  # the loose copy would be read first
    tracemalloc.start()
    try:
        digest, sizes = hashlib.sha256(), []
        with repository.open(key) as handle:
            while chunk := handle.read(64 * 1024):
                digest.update(chunk)
                sizes.append(len(chunk))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert digest.hexdigest() == key and sum(sizes) == len(content)
    assert peak < 3 * MiB, f"reading a compressed 10 MiB object peaked at {peak / MiB:.1f} MiB"
    with repository.open(key) as handle:
        handle.seek(5_000_000)
        assert handle.read(10) == content[5_000_000:5_000_010]
        handle.seek(100)
        assert handle.tell() == 100 and handle.read(10) == content[100:110]
        assert handle.read() == content[110:]
    assert repository.get_object_content(key) == content


def test_packed_streams_seek_and_read_into(repository) -> None:
    content = bytes(range(256)) * 4000
    (key,) = repository.put_objects_from_filelikes([io.BytesIO(content)])
    with repository.open(key) as handle:
        assert handle.seekable() and handle.read(3) == content[:3]
        handle.seek(-10, io.SEEK_END)
        assert handle.read() == content[-10:] and handle.read() == b""
        handle.seek(1000)
        buffer = bytearray(16)
        assert handle.readinto(buffer) == 16 and bytes(buffer) == content[1000:1016]
    with pytest.raises(ValueError, match="closed"):
        handle.read()


def test_iteration_streams_large_packed_objects_and_serves_small_ones(repository) -> None:
    large = os.urandom(16 * MiB)
    small = [b"small %d" % index for index in range(50)]
    keys = repository.put_objects_from_filelikes([io.BytesIO(c) for c in [*small[:25], large, *small[25:]]])
    loose_key = repository.put_object_from_filelike(io.BytesIO(b"loose one"))
    tracemalloc.start()
    try:
        seen = {}
        for key, stream in repository.iter_object_streams([*keys, loose_key, keys[0]]):
            digest = hashlib.sha256()
            while chunk := stream.read(MiB):
                digest.update(chunk)
            seen[key] = digest.hexdigest()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert seen == {key: key for key in [*keys, loose_key]}  # each once, each with the right content
    assert peak < 6 * MiB, f"iterating over a 16 MiB packed object peaked at {peak / MiB:.1f} MiB"


def test_iteration_names_missing_objects_after_the_others(repository) -> None:
    present = repository.put_object_from_filelike(io.BytesIO(b"here"))
    missing = hashlib.sha256(b"not here").hexdigest()
    seen = []
    with pytest.raises(FileNotFoundError, match=missing):
        for key, stream in repository.iter_object_streams([missing, present]):
            seen.append((key, stream.read()))
    assert seen == [(present, b"here")]


def test_a_damaged_pack_is_a_one_line_error(repository) -> None:
    (key,) = repository.put_objects_from_filelikes([io.BytesIO(os.urandom(10_000))])
    with open(repository._filepath / "packs" / "0", "r+b") as pack:
        pack.truncate(5000)
    for read in (repository.get_object_content, lambda k: repository.open(k).read()):
        with pytest.raises(CorruptStorage, match="damaged") as raised:
            read(key)
        assert "\n" not in str(raised.value)
    os.unlink(repository._filepath / "packs" / "0")
    with pytest.raises(CorruptStorage, match="pack 0, which does not exist"):
        repository.get_object_content(key)


def test_info_counts_as_disk_objectstore_counts(repository) -> None:
    _store_loose_packed_compressed(repository)
    repository.put_objects_from_filelikes([io.BytesIO(b"batch")])
    repository.delete_objects([repository.put_objects_from_filelikes([io.BytesIO(b"deleted")])[0]])
    info = repository.get_info(detailed=True)
    with Container(repository._filepath) as container:
        counts, sizes = container.count_objects(), container.get_total_size()
    assert info["objects"] == {"loose": counts.loose, "packed": counts.packed} and info["packs"] == counts.pack_files
    assert info["size_bytes"] == {
        "loose": sizes.total_size_loose,
        "packed": sizes.total_size_packed,
        "packed_on_disk": sizes.total_size_packed_on_disk,
        "packfiles_on_disk": sizes.total_size_packfiles_on_disk,
        "pack_index_on_disk": sizes.total_size_packindexes_on_disk,
    }
    assert info["pack_statistics"]["unreferenced_bytes"] > 0
