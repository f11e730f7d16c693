"""Crash safety: a process killed with SIGKILL inside a write or a full maintenance loses nothing committed.

Each child signals through a marker file from a point inside the operation (a row generator, the loop
storing nodes, disk-objectstore's pack writer) and hangs there until the parent kills it, so the kill
always lands mid-operation. After the kill the store must open, pass its integrity checks, hold all
or none of each transaction's rows, refer to no missing repository object, and ``maintain`` must
reclaim the objects the dead transaction left behind.
"""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import pytest
from provstore.storage import EntityTypes
from provstore_sql.migrator import SqlMigrator
from support.bulk_load_support import schema_snapshot

from reliability.checks import assert_consistent, labels, referenced_keys, reopen
from reliability.children import kill_at_marker, start_child
from reliability.figures import record

pytestmark = pytest.mark.slow

BULK_ROWS = 50_000
BULK_KILL_AFTER = 30_000
"""The child's row generator signals after this many rows: most of the 50,000 are sent, none committed."""

BULK_CHILD = f"""
import uuid
EXCLUSIVE = globals().get("EXCLUSIVE", False)
storage = resolve_storage_class(profile)(profile)
user = storage.default_user.pk

def rows():
    for index in range({BULK_ROWS}):
        if index == {BULK_KILL_AFTER}:
            signal_and_hang()
        yield {{"uuid": str(uuid.uuid4()), "node_type": "data.core.Int.", "label": "doomed", "user_id": user}}

storage.bulk_insert(EntityTypes.NODE, rows(), allow_defaults=True, exclusive_load=EXCLUSIVE)
"""

BULK_LOAD_CHILD = (
    """
from provstore_sql.bulk import load_mode

EXCLUSIVE = True
resolve_storage_class(profile).dialect.bulk_load_threshold = 1000
_begin = load_mode.BulkLoad.begin.__func__


def _recording_begin(cls, *args, **kwargs):
    load = _begin(cls, *args, **kwargs)
    with open(MARKER + ".mode", "w") as handle:
        handle.write("bulk-load" if load is not None else "row by row")
    return load


load_mode.BulkLoad.begin = classmethod(_recording_begin)
"""
    + BULK_CHILD
)
"""The bulk insert child with bulk-load mode from row 1,000 on: killed while the indexes are dropped."""

FILES_CHILD = """
storage = resolve_storage_class(profile)(profile)
with storage.transaction():
    for index in range(200):
        node = storage.nodes.create(node_type="data.core.folder.FolderData.", label="doomed")
        node.put_object_from_bytes(f"doomed {index}".encode(), "out/result.txt")
        node.store()
        if index == 120:
            signal_and_hang()
"""

PACK_CHILD = """
from provstore_diskobjectstore import packer

original = packer._PackWriter.append
written = 0

def append_then_signal(self, *args, **kwargs):
    global written
    result = original(self, *args, **kwargs)
    written += 1
    if written == 100:
        signal_and_hang()
    return result

packer._PackWriter.append = append_then_signal
storage = resolve_storage_class(profile)(profile)
storage.maintain(full=True)
"""
"""Full maintenance killed after provstore's packer (not disk-objectstore's) copied 100 loose objects into a pack."""

REPACK_CHILD = """
from disk_objectstore import container as module

original_repack_pack, original_should_compress = module.Container.repack_pack, module.should_compress
repacking, copied = False, 0

def repack_pack(self, *args, **kwargs):
    global repacking
    repacking = True
    return original_repack_pack(self, *args, **kwargs)

def should_compress(*args, **kwargs):  # called once per object copied into the temporary pack
    global copied
    copied += repacking
    if copied == 50:
        signal_and_hang()
    return original_should_compress(*args, **kwargs)

module.Container.repack_pack, module.should_compress = repack_pack, should_compress
storage = resolve_storage_class(profile)(profile)
storage.maintain(full=True)
"""


def _store_kept_nodes(storage, count: int) -> dict[str, bytes]:
    """Commit ``count`` nodes labelled "kept", each with one file; return uuid -> content."""
    contents = {}
    with storage.transaction():
        for index in range(count):
            content = f"kept {index} {uuid.uuid4()}".encode()
            node = storage.nodes.create(node_type="data.core.folder.FolderData.", label="kept")
            node.put_object_from_bytes(content, "out/result.txt")
            contents[node.store().uuid] = content
    record("nodes committed before a kill", count)
    return contents


def _assert_kept(storage, contents: dict[str, bytes]) -> None:
    """Assert every committed node is there with its file content intact, and nothing else."""
    stored = {node.uuid: node.get_object_content("out/result.txt") for node in storage.nodes if node.label == "kept"}
    lost = sum(stored.get(node_uuid) != content for node_uuid, content in contents.items())
    record("committed records checked after a kill", len(contents))
    record("committed records lost", lost)
    assert lost == 0
    assert labels(storage) == {"kept": len(contents)}


def test_kill_during_bulk_insert_of_50000_nodes(durable_profile, tmp_path):
    """None of the killed bulk_insert's rows survive; the committed ones all do; the store stays writable."""
    storage = reopen(durable_profile)
    contents = _store_kept_nodes(storage, 50)
    storage.close()

    marker = tmp_path / "marker"
    kill_at_marker(start_child(durable_profile, BULK_CHILD, marker), marker)
    record("rows sent by killed transactions", BULK_KILL_AFTER)

    storage = reopen(durable_profile)
    try:
        assert_consistent(storage)
        _assert_kept(storage, contents)
        user = storage.default_user.pk
        rows = [{"uuid": str(uuid.uuid4()), "node_type": "data.", "label": "after", "user_id": user}] * 1
        storage.bulk_insert(EntityTypes.NODE, rows, allow_defaults=True)
        assert labels(storage)["after"] == 1
    finally:
        storage.close()


def test_kill_during_bulk_load_mode_keeps_schema_and_rows(durable_profile, tmp_path):
    """Killed while the table's indexes (and PostgreSQL constraints) are dropped: schema and rows are as before."""
    storage = reopen(durable_profile)
    contents = _store_kept_nodes(storage, 50)
    schema = schema_snapshot(storage)
    storage.close()

    marker = tmp_path / "marker"
    kill_at_marker(start_child(durable_profile, BULK_LOAD_CHILD, marker), marker)
    assert (tmp_path / "marker.mode").read_text() == "bulk-load"
    record("rows sent by killed transactions", BULK_KILL_AFTER)

    storage = reopen(durable_profile)
    try:
        assert schema_snapshot(storage) == schema
        assert_consistent(storage)
        _assert_kept(storage, contents)
        with SqlMigrator.connect(storage._engine, durable_profile.name) as migrator:
            assert migrator.schema_differences() == []
    finally:
        storage.close()


def test_kill_during_transaction_storing_files(durable_profile, tmp_path):
    """A killed transaction leaves no node but orphaned objects, which full maintenance deletes."""
    storage = reopen(durable_profile)
    contents = _store_kept_nodes(storage, 20)
    storage.close()

    marker = tmp_path / "marker"
    kill_at_marker(start_child(durable_profile, FILES_CHILD, marker), marker)

    storage = reopen(durable_profile)
    try:
        assert_consistent(storage)
        _assert_kept(storage, contents)
        orphans = storage.get_unreferenced_keyset()
        assert len(orphans) == 121  # the files of the killed transaction, written before its rows
        result = storage.maintain(full=True)
        assert result["unreferenced_objects"]["count"] == 121
        assert storage.get_unreferenced_keyset() == set()
        assert set(storage.get_repository().list_objects()) == referenced_keys(storage)
        _assert_kept(storage, contents)
    finally:
        storage.close()


def test_kill_during_full_maintenance_packing(durable_profile, tmp_path):
    """Killed while packing, the repository keeps every object; the next full maintenance completes."""
    storage = reopen(durable_profile)
    contents = _store_kept_nodes(storage, 200)
    repository = storage.get_repository()
    orphans = {repository.put_object_from_filelike(io.BytesIO(f"orphan {i}".encode())) for i in range(40)}
    storage.close()

    marker = tmp_path / "marker"
    kill_at_marker(start_child(durable_profile, PACK_CHILD, marker), marker)

    storage = reopen(durable_profile)
    try:
        assert_consistent(storage)
        _assert_kept(storage, contents)
        assert storage.get_unreferenced_keyset() <= orphans
        storage.maintain(full=True)
        assert storage.get_unreferenced_keyset() == set()
        _assert_kept(storage, contents)
        container = storage.get_repository().container
        assert container.count_objects().loose == 0
        assert container.validate().is_valid()
    finally:
        storage.close()


def test_kill_during_full_maintenance_repacking(durable_profile, tmp_path):
    """Killed while repacking into the temporary pack, nothing is lost and the next full maintenance completes."""
    storage = reopen(durable_profile)
    contents = _store_kept_nodes(storage, 100)
    storage.maintain(full=True)  # everything packed
    repository = storage.get_repository()
    for index in range(40):  # orphans packed beside the kept objects: the child's maintenance deletes them,
        repository.put_object_from_filelike(io.BytesIO(f"orphan {index}".encode()))
    storage.maintain()  # then repacks the pack they leave waste in
    storage.close()

    marker = tmp_path / "marker"
    kill_at_marker(start_child(durable_profile, REPACK_CHILD, marker), marker)

    storage = reopen(durable_profile)
    try:
        assert_consistent(storage)
        _assert_kept(storage, contents)
        storage.maintain(full=True)
        container = storage.get_repository().container
        assert not (Path(container.get_folder()) / "packs" / "-1").exists()
        assert container.validate().is_valid()
        _assert_kept(storage, contents)
    finally:
        storage.close()
