"""A full disk (issue 23): a core.sqlite_dos store on a small tmpfs stays readable, every write that cannot be
done raises one StorageFull and keeps nothing of itself, and once space is freed the same write succeeds.

Each test mounts its own tmpfs (skipped, with the reason, where mounting is not allowed).
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from provstore.config import Profile
from provstore.exceptions import StorageError, StorageFull
from provstore.plugins import resolve_storage_class
from provstore.storage import EntityTypes
from provstore.testing.profiles import make_profile

from reliability.small_disk import SmallDisk, small_disk

DATA = "data.core.Dict."


@pytest.fixture
def disk(tmp_path: Path) -> Any:
    """Yield a mounted 32 MiB tmpfs."""
    with small_disk(tmp_path, "32m") as mounted:
        yield mounted


@pytest.fixture
def profile(disk: SmallDisk) -> Profile:
    """Return an initialised core.sqlite_dos profile on the small disk."""
    profile = make_profile("core.sqlite_dos", disk.root / "store", busy_timeout=5)
    resolve_storage_class(profile).initialise(profile)
    return profile


def _open(profile: Profile) -> Any:
    return resolve_storage_class(profile)(profile)


def _rows(storage: Any, count: int, tag: str) -> list[dict[str, Any]]:
    user = storage.default_user.pk
    return [
        {"node_type": DATA, "label": f"{tag}-{i}", "attributes": {"pad": "x" * 4000}, "user_id": user}
        for i in range(count)
    ]


def _labels(storage: Any) -> set[str]:
    return {label for (label,) in storage.query().append("node", project=["label"]).all()}


def _database_files(profile: Profile) -> Path:
    return Path(profile.storage_config["filepath"]).expanduser()


def _check_full_error(error: StorageFull, profile: Profile) -> None:
    message = str(error)
    assert "\n" not in message
    assert repr(profile.name) in message
    assert "full" in message
    assert isinstance(error, StorageError)


def test_bulk_insert_on_a_full_disk_keeps_every_acknowledged_row(profile: Profile, disk: SmallDisk) -> None:
    """Bulk inserts until the disk is full: acknowledged batches survive, the failing one leaves nothing."""
    storage = _open(profile)
    try:
        disk.fill(leave=2 << 20)
        acknowledged: set[str] = set()
        with pytest.raises(StorageFull) as info:
            for batch in range(10_000):
                rows = _rows(storage, 50, f"b{batch}")
                storage.bulk_insert(EntityTypes.NODE, rows, allow_defaults=True)
                acknowledged.update(row["label"] for row in rows)
        _check_full_error(info.value, profile)
        assert acknowledged
        assert _labels(storage) == acknowledged  # reads while full; nothing of the failed batch
        assert storage.get_info()["entities"]["nodes"] == len(acknowledged)
        disk.free()
        storage.bulk_insert(EntityTypes.NODE, _rows(storage, 50, "after"), allow_defaults=True)  # no repair
        assert len(_labels(storage)) == len(acknowledged) + 50
    finally:
        storage.close()
    reopened = _open(profile)
    try:
        assert acknowledged <= _labels(reopened)
    finally:
        reopened.close()


def test_node_store_on_a_full_disk(profile: Profile, disk: SmallDisk) -> None:
    """Storing nodes one by one with a file each until full: every stored node keeps its file."""
    storage = _open(profile)
    try:
        disk.fill(leave=1 << 20)
        stored: dict[int, bytes] = {}
        with pytest.raises(StorageFull):
            for i in range(100_000):
                content = os.urandom(8192)
                node = storage.nodes.create(node_type=DATA, label=f"n{i}", attributes={"pad": "y" * 2000})
                node.put_object_from_bytes(content, "f.bin")
                node.store()
                stored[node.pk] = content
        assert stored
        for pk, content in stored.items():
            assert storage.nodes.get(pk).get_object_content("f.bin") == content
        disk.free()
        node = storage.nodes.create(node_type=DATA, label="after")
        node.put_object_from_bytes(b"after", "f.bin")
        node.store()
        assert storage.nodes.get(node.pk).get_object_content("f.bin") == b"after"
    finally:
        storage.close()


def test_repository_writes_on_a_full_disk(profile: Profile, disk: SmallDisk) -> None:
    """A single object and a batch that do not fit raise StorageFull, leave no partial file, then succeed."""
    storage = _open(profile)
    repository = storage.get_repository()
    try:
        kept = repository.put_object_from_filelike(io.BytesIO(b"kept"))
        disk.fill(leave=256 << 10)
        big = os.urandom(1 << 20)
        with pytest.raises(StorageFull) as info:
            repository.put_object_from_filelike(io.BytesIO(big))
        _check_full_error(info.value, profile)
        assert "repository" in str(info.value)
        container = Path(repository.get_info()["folder"])
        assert not [name for name in os.listdir(container / "sandbox") if not name.startswith(".")]
        with pytest.raises(StorageFull):
            repository.put_objects_from_filelikes([io.BytesIO(big), io.BytesIO(os.urandom(1 << 20))])
        assert repository.get_object_content(kept) == b"kept"
        assert repository.has_objects([kept]) == [True]
        disk.free()
        key = repository.put_object_from_filelike(io.BytesIO(big))
        keys = repository.put_objects_from_filelikes([io.BytesIO(b"a" * 1000), io.BytesIO(b"b" * 1000)])
        assert repository.get_object_content(key) == big
        assert [repository.get_object_content(k) for k in keys] == [b"a" * 1000, b"b" * 1000]
    finally:
        storage.close()


def test_packing_refuses_up_front_without_room(profile: Profile, disk: SmallDisk) -> None:
    """Live maintenance refuses to pack what does not fit, changes nothing, and packs once space is freed."""
    storage = _open(profile)
    repository = storage.get_repository()
    try:
        keys = [repository.put_object_from_filelike(io.BytesIO(os.urandom(1 << 20))) for _ in range(4)]
        disk.fill(leave=2 << 20)
        with pytest.raises(StorageFull) as info:
            storage.maintain(full=False)
        assert "packing" in str(info.value) and "bytes more needed" in str(info.value)
        assert repository.get_info()["objects"] == {"loose": 4, "packed": 0}
        disk.free()
        storage.maintain(full=False)
        assert repository.get_info()["objects"]["packed"] == 4
        assert all(len(repository.get_object_content(key)) == 1 << 20 for key in keys)
    finally:
        storage.close()


def test_a_cleanly_closed_store_opens_and_reads_on_a_full_disk(
    profile: Profile, disk: SmallDisk, caplog: pytest.LogCaptureFixture
) -> None:
    """No -shm file and no free byte: the store opens (one warning line), answers queries and info, then writes."""
    storage = _open(profile)
    storage.bulk_insert(EntityTypes.NODE, _rows(storage, 20, "before"), allow_defaults=True)
    key = storage.get_repository().put_object_from_filelike(io.BytesIO(b"content"))
    storage.close()
    assert not (_database_files(profile) / "database.sqlite-shm").exists()
    disk.fill()
    with caplog.at_level(logging.WARNING):
        storage = _open(profile)
    try:
        assert any("is full" in record.getMessage() for record in caplog.records)
        assert len(_labels(storage)) == 20
        assert storage.get_info(detailed=True)["entities"]["nodes"] == 20
        assert storage.get_repository().get_object_content(key) == b"content"
        with pytest.raises(StorageFull):
            storage.bulk_insert(EntityTypes.NODE, _rows(storage, 200, "full"), allow_defaults=True)
        disk.free()
        storage.bulk_insert(EntityTypes.NODE, _rows(storage, 5, "freed"), allow_defaults=True)
        assert len(_labels(storage)) == 25
    finally:
        storage.close()


def test_a_store_on_a_read_only_filesystem_opens_read_only(
    profile: Profile, disk: SmallDisk, caplog: pytest.LogCaptureFixture
) -> None:
    """A read-only filesystem: the store opens with one warning, reads, and a write fails with a provstore error."""
    storage = _open(profile)
    storage.bulk_insert(EntityTypes.NODE, _rows(storage, 10, "ro"), allow_defaults=True)
    key = storage.get_repository().put_object_from_filelike(io.BytesIO(b"content"))
    storage.close()
    disk.remount("ro")
    try:
        with caplog.at_level(logging.WARNING):
            storage = _open(profile)
        try:
            assert any("read-only" in record.getMessage() for record in caplog.records)
            assert len(_labels(storage)) == 10
            assert storage.get_info()["entities"]["nodes"] == 10
            assert storage.get_repository().get_object_content(key) == b"content"
        finally:
            storage.close()
    finally:
        disk.remount("rw")


@pytest.mark.slow
def test_cli_on_a_full_disk(profile: Profile, disk: SmallDisk, tmp_path: Path) -> None:
    """`storage info` answers on a full disk; `storage maintain --full` refuses in one line with rc 1."""
    from provstore.config import Config

    config_dir = tmp_path / "config"
    env = {**os.environ, "PROVSTORE_CONFIG_DIR": str(config_dir)}
    with Config.edit(config_dir) as config:
        config.add_profile(profile)
    storage = _open(profile)
    storage.bulk_insert(EntityTypes.NODE, _rows(storage, 100, "cli"), allow_defaults=True)
    storage.close()
    disk.fill()
    provstore = [sys.executable, "-m", "provstore", "-p", profile.name]
    info = subprocess.run([*provstore, "storage", "info"], env=env, capture_output=True, text=True)
    assert info.returncode == 0, info.stderr
    maintain = subprocess.run([*provstore, "storage", "maintain", "--full"], env=env, capture_output=True, text=True)
    assert maintain.returncode == 1, maintain.stderr[-3000:]
    assert "Traceback" not in maintain.stderr
    lines = maintain.stderr.strip().splitlines()
    assert len(lines) <= 2  # the notice that the store was opened on a full disk, and the error
    assert lines[-1].startswith("Error: ") and "is full" in lines[-1] and repr(profile.name) in lines[-1]


def _fill_store(storage: Any, nodes: int) -> dict[int, bytes]:
    contents: dict[int, bytes] = {}
    for i in range(nodes):
        node = storage.nodes.create(node_type=DATA, label=f"src-{i}", attributes={"i": i})
        content = os.urandom(300_000)
        node.put_object_from_bytes(content, "f.bin")
        node.store()
        contents[node.pk] = content
    return contents


def test_archive_and_transfer_out_of_a_full_store_and_into_one(disk: SmallDisk, tmp_path: Path) -> None:
    """A full store archives and transfers to another disk; importing into a full store fails whole, then succeeds."""
    from provstore.archive import create_archive, import_archive
    from provstore.transfer.engine import transfer_storage

    source_profile = make_profile("core.sqlite_dos", disk.root / "source", busy_timeout=5)
    target_profile = make_profile("core.sqlite_dos", disk.root / "target", busy_timeout=5)
    for profile in (source_profile, target_profile):
        resolve_storage_class(profile).initialise(profile)
    source = _open(source_profile)
    contents = _fill_store(source, 8)
    source.close()
    disk.fill()
    source = _open(source_profile)
    try:
        archive = tmp_path / "out.zip"  # another disk
        create_archive(source, archive)
        copy_profile = make_profile("core.sqlite_dos", tmp_path / "copy")
        resolve_storage_class(copy_profile).initialise(copy_profile)
        copy = _open(copy_profile)
        try:
            transfer_storage(source, copy)
            assert copy.nodes.count() == len(contents)
        finally:
            copy.close()
    finally:
        source.close()
    target = _open(target_profile)
    try:
        with pytest.raises(StorageFull):
            import_archive(archive, target)
        assert target.nodes.count() == 0  # no row of the failed import
        copy = _open(copy_profile)
        try:
            with pytest.raises(StorageFull):
                transfer_storage(copy, target)
        finally:
            copy.close()
        assert target.nodes.count() == 0
        disk.free()
        import_archive(archive, target)
        pks = [pk for (pk,) in target.query().append("node", project=["id"]).all()]
        imported = sorted(target.nodes.get(pk).get_object_content("f.bin") for pk in pks)
        assert imported == sorted(contents.values())
    finally:
        target.close()


def test_archive_create_onto_a_full_disk(disk: SmallDisk, tmp_path: Path) -> None:
    """An archive written onto a full disk raises StorageFull naming the archive, leaves no file, then succeeds."""
    from provstore.archive import create_archive

    source_profile = make_profile("core.sqlite_dos", tmp_path / "source")
    resolve_storage_class(source_profile).initialise(source_profile)
    source = _open(source_profile)
    try:
        _fill_store(source, 8)  # 2.4 MB of incompressible files
        disk.fill(leave=1 << 20)
        archive = disk.root / "out.zip"
        with pytest.raises(StorageFull) as info:
            create_archive(source, archive)
        message = str(info.value)
        assert "\n" not in message and str(archive) in message and "full" in message
        assert info.value.path == str(disk.root)
        assert sorted(path.name for path in disk.root.iterdir()) == ["filler"]  # no partial archive, no temp folder
        disk.free()
        create_archive(source, archive)
        assert archive.stat().st_size > 2_000_000
    finally:
        source.close()


def test_migration_on_a_full_disk(profile: Profile, disk: SmallDisk) -> None:
    """A migration that cannot write raises StorageFull and leaves the old version; it succeeds once space is freed."""
    import sqlite3

    cls = resolve_storage_class(profile)
    storage = _open(profile)
    storage.bulk_insert(EntityTypes.NODE, _rows(storage, 20, "old"), allow_defaults=True)
    storage.close()
    from provstore_sql.migrator import SqlMigrator

    older = SqlMigrator.versions()[0]  # the oldest revision
    assert older != cls.version_head()
    database = _database_files(profile) / "database.sqlite"
    connection = sqlite3.connect(database)
    with connection:
        connection.execute("UPDATE alembic_version SET version_num = ?", (older,))
    connection.close()
    disk.fill()
    with pytest.raises(StorageFull) as info:
        cls.migrate(profile)
    _check_full_error(info.value, profile)
    assert cls.version_profile(profile) == older
    disk.free()
    cls.migrate(profile)
    assert cls.version_profile(profile) == cls.version_head()
    storage = _open(profile)
    try:
        assert len(_labels(storage)) == 20
    finally:
        storage.close()


_READER = """
import json, logging, sys
from provstore.config import Profile
from provstore.plugins import resolve_storage_class
logging.basicConfig(level=logging.WARNING, format="%(message)s")
profile = Profile(sys.argv[1], json.loads(sys.argv[2]))
with resolve_storage_class(profile)(profile) as storage:
    labels = {label for (label,) in storage.query().append("node", project=["label"]).all()}
    print(json.dumps({"nodes": len(labels), "info": storage.get_info()["entities"]["nodes"]}))
"""


@pytest.mark.slow
def test_a_read_only_database_file_opens_read_only(profile: Profile) -> None:
    """A store whose files may only be read (root without CAP_DAC_OVERRIDE) opens read-only with one notice."""
    import json
    import shutil

    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        pytest.skip("needs root and setpriv, to read the store without the right to override file permissions")
    storage = _open(profile)
    storage.bulk_insert(EntityTypes.NODE, _rows(storage, 7, "ro"), allow_defaults=True)
    storage.close()
    for folder, _dirs, files in os.walk(_database_files(profile)):
        for name in files:
            os.chmod(os.path.join(folder, name), 0o444)
    no_override = "-dac_override,-dac_read_search"
    without_override = [setpriv, f"--inh-caps={no_override}", f"--bounding-set={no_override}"]
    child = subprocess.run(
        [*without_override, sys.executable, "-c", _READER, profile.name, json.dumps(profile.dictionary)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, child.stderr
    assert json.loads(child.stdout.strip().splitlines()[-1]) == {"nodes": 7, "info": 7}
    notices = [line for line in child.stderr.splitlines() if "read-only" in line]
    assert len(notices) == 1, child.stderr
