"""An aiida-core store given to provstore's own backends is named as such, in one line saying how to bring it in,
and nothing (journal mode, lock file, setting, table) is written to it before its schema was recognised."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import tree_digest
from provstore import open_storage
from provstore.cli.root import cli
from provstore.config import Config, Profile
from provstore.exceptions import IncompatibleStorageSchema
from provstore.plugins import get_plugin_manager

pytestmark = pytest.mark.slow

BRING_IN = "provstore storage transfer --from <that profile> --to <a provstore profile>"


@pytest.fixture
def aiida_folder(aiida_sqlite_store, tmp_path) -> Path:
    """Return a copy of the aiida-core sqlite_dos folder (the tests may stamp it differently)."""
    return Path(shutil.copytree(aiida_sqlite_store["folder"], tmp_path / "aiida_store"))


def sqlite_dos_profile(folder: Path) -> Profile:
    return Profile("lab", {"storage": {"backend": "core.sqlite_dos", "config": {"filepath": str(folder)}}})


def files(folder: Path) -> tuple[dict[str, str], list[str]]:
    return tree_digest(folder), sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def test_sqlite_dos_names_an_aiida_store_and_writes_nothing(aiida_folder):
    before = files(aiida_folder)
    profile = sqlite_dos_profile(aiida_folder)
    cls = get_plugin_manager().get_storage_backend("core.sqlite_dos")
    expected = (
        "the storage of profile 'lab' is an aiida-core store (schema main_0002), not a provstore one: to bring it "
        f"in, point a profile of backend core.aiida_sqlite_dos at it and run `{BRING_IN}`"
    )
    for attempt in (
        lambda: open_storage(profile),
        lambda: cls.version_profile(profile),
        lambda: cls.migrate(profile),
        lambda: cls.initialise(profile),
        lambda: cls.initialise(profile, reset=True),  # never erases an aiida-core store
    ):
        with pytest.raises(IncompatibleStorageSchema) as caught:
            attempt()
        assert str(caught.value) == expected
    assert files(aiida_folder) == before  # no WAL switch, no -wal/-shm, no lock file


def test_cli_storage_commands_and_profile_setup_name_an_aiida_store(aiida_folder, isolated_config_dir):
    before = files(aiida_folder)
    with Config.edit() as config:
        config.add_profile(sqlite_dos_profile(aiida_folder))
    for command in (["storage", "version"], ["storage", "info"], ["storage", "migrate"]):
        result = CliRunner().invoke(cli, ["-p", "lab", *command])
        assert result.exit_code != 0, (command, result.output)
        lines = result.output.strip().splitlines()
        assert "aiida-core store (schema main_0002)" in lines[-1], (command, result.output)
    config_file = sorted(isolated_config_dir.iterdir())
    contents = {path: path.read_bytes() for path in config_file if path.is_file()}
    result = CliRunner().invoke(
        cli, ["profile", "setup", "core.sqlite_dos", "--profile-name", "again", "--filepath", str(aiida_folder)]
    )
    assert result.exit_code != 0 and "aiida-core store" in result.output
    assert "Created profile" not in result.output
    assert {path: path.read_bytes() for path in config_file if path.is_file()} == contents
    assert files(aiida_folder) == before


@pytest.mark.parametrize("stamp", ["django_0050", "e15ef2630a1b"])
def test_older_aiida_schemas_are_named_with_the_migration_to_run_first(aiida_folder, stamp):
    with sqlite3.connect(aiida_folder / "database.sqlite") as connection:
        connection.execute("UPDATE alembic_version SET version_num = ?", (stamp,))
    connection.close()
    with pytest.raises(IncompatibleStorageSchema, match=rf"schema {stamp}\).*verdi storage migrate"):
        open_storage(sqlite_dos_profile(aiida_folder))
    aiida_profile = Profile(
        "old", {"storage": {"backend": "core.aiida_sqlite_dos", "config": {"filepath": str(aiida_folder)}}}
    )
    with pytest.raises(IncompatibleStorageSchema, match=rf"aiida-core schema {stamp}, older .*verdi storage migrate"):
        open_storage(aiida_profile)


def test_aiida_backend_refuses_a_provstore_store(tmp_path):
    profile = sqlite_dos_profile(tmp_path / "mine")
    get_plugin_manager().get_storage_backend("core.sqlite_dos").initialise(profile)
    aiida_profile = Profile(
        "x", {"storage": {"backend": "core.aiida_sqlite_dos", "config": {"filepath": str(tmp_path / "mine")}}}
    )
    with pytest.raises(IncompatibleStorageSchema, match=r"is a provstore store .*open it with core.sqlite_dos"):
        open_storage(aiida_profile)


@pytest.mark.postgres
def test_psql_dos_names_an_aiida_store(aiida_psql_store):
    config = aiida_psql_store["config"]
    profile = Profile(
        "pg",
        {
            "storage": {
                "backend": "core.psql_dos",
                "config": {key: value for key, value in config.items() if key != "database_engine"},
            }
        },
    )
    with pytest.raises(IncompatibleStorageSchema, match=r"aiida-core store .*core.aiida_psql_dos"):
        open_storage(profile)
    with pytest.raises(IncompatibleStorageSchema, match="aiida-core store"):
        get_plugin_manager().get_storage_backend("core.psql_dos").version_profile(profile)


def test_storage_version_of_an_older_aiida_store_says_how_to_bring_it_in(aiida_folder, isolated_config_dir):
    with sqlite3.connect(aiida_folder / "database.sqlite") as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'main_0001'")
    connection.close()
    before = files(aiida_folder)
    profile = Profile(
        "old", {"storage": {"backend": "core.aiida_sqlite_dos", "config": {"filepath": str(aiida_folder)}}}
    )
    with Config.edit() as config:
        config.add_profile(profile)
    result = CliRunner().invoke(cli, ["-p", "old", "storage", "version"])
    assert result.exit_code == 0, result.output
    assert "storage schema version: main_0001" in result.output
    assert "provstore storage migrate" not in result.output
    assert "provstore storage transfer --from old" in result.output
    assert "`verdi storage migrate` with aiida-core 2.9 then `provstore -p old storage adopt`" in result.output
    assert files(aiida_folder) == before
