"""aiida-core 2.9.4 stores brought into provstore: read in place (read-only), transferred, compared entity by entity.

The stores are written by the real aiida-core (see ``conftest.py``); the snapshots of both sides must be equal:
every user, computer, authinfo, node (attributes, extras, times, files by sha256), link, group, comment and log.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import tree_digest
from provstore import open_storage
from provstore.cli.root import cli
from provstore.config import Config, Profile
from provstore.transfer import transfer_storage
from provstore_aiida.backends import ReadOnlyStorage
from snapshot import snapshot
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

pytestmark = pytest.mark.slow


def aiida_sqlite_profile(folder: Path, name: str = "from_aiida") -> Profile:
    return Profile(name, {"storage": {"backend": "core.aiida_sqlite_dos", "config": {"filepath": str(folder)}}})


def target_profile(backend: str, tmp_path: Path, name: str, pg: dict[str, Any] | None = None) -> Profile:
    from provstore.testing.profiles import make_profile

    attributes = make_profile(backend, tmp_path / name, **(pg or {})).dictionary
    return Profile(name, attributes)


def initialised(profile: Profile) -> Any:
    """Initialise the profile's storage and return it open."""
    from provstore.plugins import get_plugin_manager

    cls = get_plugin_manager().get_storage_backend(profile.storage_backend)
    cls.initialise(profile)
    return open_storage(profile)


def test_sqlite_dos_store_reads_in_place_and_stays_untouched(aiida_sqlite_store):
    folder = aiida_sqlite_store["folder"]
    before = tree_digest(folder)
    listing = sorted(path.name for path in folder.rglob("*"))
    with open_storage(aiida_sqlite_profile(folder)) as storage:
        assert snapshot(storage) == aiida_sqlite_store["snapshot"]
        assert isinstance(storage.query().append("node", project="uuid").first()[0], str)
        info = storage.get_info()
        assert info["schema_version"] == "main_0002"
        assert info["entities"]["nodes"] == len(aiida_sqlite_store["snapshot"]["nodes"])
        with pytest.raises(ReadOnlyStorage, match="aiida-core store read in place: settings cannot be changed"):
            storage.set_global_variable("x", 1)
    assert tree_digest(folder) == before
    assert sorted(path.name for path in folder.rglob("*")) == listing  # no -wal, -shm or lock file left


@pytest.mark.parametrize("backend", ["core.sqlite_dos", "core.sqlite_temp"])
def test_sqlite_dos_store_transfers(aiida_sqlite_store, tmp_path, backend):
    with (
        open_storage(aiida_sqlite_profile(aiida_sqlite_store["folder"])) as source,
        initialised(target_profile(backend, tmp_path, "target")) as target,
    ):
        report = transfer_storage(source, target, batch_size=3)
        assert report.verified
        assert snapshot(target) == aiida_sqlite_store["snapshot"]


def test_cli_transfer_from_an_aiida_profile(aiida_sqlite_store, tmp_path):
    target = target_profile("core.sqlite_dos", tmp_path, "mine")
    folder = str(aiida_sqlite_store["folder"])
    setup = CliRunner().invoke(
        cli, ["profile", "setup", "core.aiida_sqlite_dos", "--profile-name", "lab_aiida", "--filepath", folder]
    )
    assert setup.exit_code == 0 and "Created profile 'lab_aiida'" in setup.output, setup.output
    with Config.edit() as config:
        config.add_profile(target)
    result = CliRunner().invoke(cli, ["storage", "transfer", "--from", "lab_aiida", "--to", "mine"])
    assert result.exit_code == 0, result.output
    assert "verification: passed" in result.output
    with open_storage("mine") as storage:
        assert snapshot(storage) == aiida_sqlite_store["snapshot"]
    version = CliRunner().invoke(cli, ["-p", "lab_aiida", "storage", "version"])
    assert "main_0002" in version.output


@pytest.mark.postgres
def test_psql_dos_store_reads_in_place_and_transfers(aiida_psql_store, tmp_path, pg_cluster):
    profile = Profile("aiida_pg", {"storage": {"backend": "core.aiida_psql_dos", "config": aiida_psql_store["config"]}})
    before = tree_digest(aiida_psql_store["repository"])
    with open_storage(profile) as source:
        first = source.query().append("node", project="uuid").first()[0]
        assert isinstance(first, str)
        for operator, pattern in (("like", first[:8] + "%"), ("ilike", first[:8].upper() + "%")):
            found = source.query().append("node", filters={"uuid": {operator: pattern}}, project="uuid").all()
            assert [first] in [list(row) for row in found], operator
        assert source.nodes.get(uuid=first).uuid == first
        assert snapshot(source) == aiida_psql_store["snapshot"]
        with pytest.raises(sa_exc.InternalError, match="read-only transaction"):
            with source.transaction() as session:
                session.execute(text("UPDATE db_dbnode SET label = 'changed'"))
        with initialised(target_profile("core.sqlite_dos", tmp_path, "target")) as target:
            assert transfer_storage(source, target).verified
            assert snapshot(target) == aiida_psql_store["snapshot"]
    assert tree_digest(aiida_psql_store["repository"]) == before
    rows = pg_cluster.execute(
        "SELECT count(*) FROM db_dbnode WHERE label = 'changed'", dbname=aiida_psql_store["config"]["database_name"]
    )
    assert rows == [(0,)]


@pytest.mark.postgres
def test_psql_dos_store_transfers_into_psql_dos(aiida_psql_store, tmp_path, pg_cluster):
    import uuid

    name = f"target_{uuid.uuid4().hex[:12]}"
    pg_cluster.create_database(name)
    try:
        profile = Profile(
            "aiida_pg", {"storage": {"backend": "core.aiida_psql_dos", "config": aiida_psql_store["config"]}}
        )
        target = target_profile("core.psql_dos", tmp_path, "target", pg_cluster.storage_config(name))
        with open_storage(profile) as source, initialised(target) as storage:
            assert transfer_storage(source, storage).verified
            assert snapshot(storage) == aiida_psql_store["snapshot"]
    finally:
        pg_cluster.drop_database(name)


def test_archive_reads_in_place(aiida_sqlite_store):
    archive = aiida_sqlite_store["archive"]
    before = archive.read_bytes()
    profile = Profile("arch", {"storage": {"backend": "core.aiida_archive", "config": {"filepath": str(archive)}}})
    with open_storage(profile) as storage:
        assert snapshot(storage) == aiida_sqlite_store["archive_snapshot"]
        assert storage.get_info()["schema_version"] == "main_0001"
    assert archive.read_bytes() == before
