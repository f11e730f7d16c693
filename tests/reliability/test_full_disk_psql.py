"""A full disk under core.psql_dos (issue 23): the database lives in a tablespace on a small tmpfs mounted by
the test; when it fills up, PostgreSQL's ``could not extend file`` (SQLSTATE 53100) becomes StorageFull, every
acknowledged batch survives, the store reads while full and writes again once space is freed.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from provstore.config import Profile
from provstore.exceptions import StorageFull
from provstore.plugins import resolve_storage_class
from provstore.storage import EntityTypes
from provstore.testing.profiles import make_profile

from reliability.small_disk import SmallDisk

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def full_disk_database(pg_cluster: Any) -> Iterator[tuple[dict[str, Any], SmallDisk]]:
    """Yield the storage config of a database whose tablespace is on a 24 MiB tmpfs, and that disk."""
    owner = pwd.getpwnam(_owner(pg_cluster))
    parent = Path(tempfile.mkdtemp(prefix="provstore-full-"))
    parent.chmod(0o755)  # the server's user must reach the tablespace folder
    root = parent / "disk"
    root.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(root)], capture_output=True, text=True
    )
    if result.returncode:
        shutil.rmtree(parent, ignore_errors=True)
        pytest.skip(f"cannot mount a tmpfs here (needs root): {result.stderr.strip() or result.returncode}")
    space = root / "tablespace"
    space.mkdir()
    os.chown(space, owner.pw_uid, owner.pw_gid)
    name = f"full_{uuid.uuid4().hex[:12]}"
    pg_cluster.execute(f"CREATE TABLESPACE {name} LOCATION '{space}'")
    pg_cluster.execute(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' TABLESPACE {name}")
    try:
        yield pg_cluster.storage_config(name), SmallDisk(root)
    finally:
        pg_cluster.drop_database(name)
        pg_cluster.execute(f"DROP TABLESPACE IF EXISTS {name}")
        subprocess.run(["umount", "-l", str(root)], capture_output=True)
        shutil.rmtree(parent, ignore_errors=True)


def _owner(pg_cluster: Any) -> str:
    """Return the name of the system user the server runs as (the owner of its data directory)."""
    data_directory = pg_cluster.execute("SELECT current_setting('data_directory')")[0][0]
    return pwd.getpwuid(os.stat(data_directory).st_uid).pw_name


def _rows(storage: Any, count: int, tag: str) -> list[dict[str, Any]]:
    user = storage.default_user.pk
    return [
        {
            "node_type": "data.core.Dict.",
            "label": f"{tag}-{i}",
            "attributes": {"pad": os.urandom(1500).hex()},
            "user_id": user,
        }
        for i in range(count)
    ]


def _labels(storage: Any) -> set[str]:
    return {label for (label,) in storage.query().append("node", project=["label"]).all()}


@pytest.mark.parametrize("path", ["bulk_insert", "node_store"])
def test_psql_full_tablespace_raises_storage_full(
    full_disk_database: tuple[dict[str, Any], SmallDisk], tmp_path: Path, path: str
) -> None:
    """Writes into a full tablespace raise StorageFull naming the profile; acknowledged writes all survive."""
    config, disk = full_disk_database
    profile: Profile = make_profile("core.psql_dos", tmp_path, **config)
    resolve_storage_class(profile).initialise(profile)
    storage = resolve_storage_class(profile)(profile)
    try:
        disk.fill(leave=2 << 20)
        acknowledged: set[str] = set()
        with pytest.raises(StorageFull) as info:
            for batch in range(100_000):
                if path == "bulk_insert":
                    rows = _rows(storage, 100, f"b{batch}")
                    storage.bulk_insert(EntityTypes.NODE, rows, allow_defaults=True)
                    acknowledged.update(row["label"] for row in rows)
                else:
                    node = storage.nodes.create(node_type="data.core.Dict.", label=f"n{batch}")
                    node.set_attribute("pad", os.urandom(3000).hex())
                    node.store()
                    acknowledged.add(f"n{batch}")
        message = str(info.value)
        assert "\n" not in message and repr(profile.name) in message and "full" in message
        assert acknowledged
        assert _labels(storage) == acknowledged  # reads while full, nothing of the failed write
        assert storage.get_info()["entities"]["nodes"] == len(acknowledged)
        disk.free()
        storage.bulk_insert(EntityTypes.NODE, _rows(storage, 10, "after"), allow_defaults=True)
        assert len(_labels(storage)) == len(acknowledged) + 10
    finally:
        storage.close()


def test_psql_full_repository_disk_raises_storage_full_naming_the_profile(pg_database: dict[str, Any]) -> None:
    """Files of a core.psql_dos profile on a full disk: StorageFull names the profile; once freed, writes work."""
    import io

    from reliability.small_disk import small_disk

    with tempfile.TemporaryDirectory() as folder, small_disk(Path(folder), "16m") as disk:
        profile: Profile = make_profile("core.psql_dos", disk.root, **pg_database)
        resolve_storage_class(profile).initialise(profile)
        storage = resolve_storage_class(profile)(profile)
        try:
            repository = storage.get_repository()
            kept = repository.put_object_from_filelike(io.BytesIO(b"kept"))
            disk.fill(leave=64 << 10)
            with pytest.raises(StorageFull) as info:
                repository.put_object_from_filelike(io.BytesIO(os.urandom(1 << 20)))
            message = str(info.value)
            assert "\n" not in message and repr(profile.name) in message and "full" in message
            assert repository.get_object_content(kept) == b"kept"  # reads while full
            disk.free()
            content = os.urandom(1 << 20)
            assert repository.get_object_content(repository.put_object_from_filelike(io.BytesIO(content))) == content
        finally:
            storage.close()
