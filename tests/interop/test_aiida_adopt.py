"""``provstore storage adopt``: an aiida-core 2.9.4 sqlite_dos folder becomes a provstore store in place, or is
left exactly as it was (dry run, another process using it, a failure on the way)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import tree_digest
from provstore import open_storage
from provstore.cli.root import cli
from provstore.config import Config, Profile
from provstore.exceptions import LockedProfileError
from provstore_aiida import adopt
from snapshot import snapshot

pytestmark = pytest.mark.slow


@pytest.fixture
def aiida_profile(aiida_sqlite_store, tmp_path) -> Profile:
    """Save profile ``lab`` of backend core.aiida_sqlite_dos on a copy of the aiida-core folder."""
    folder = shutil.copytree(aiida_sqlite_store["folder"], tmp_path / "lab")
    profile = Profile("lab", {"storage": {"backend": "core.aiida_sqlite_dos", "config": {"filepath": str(folder)}}})
    with Config.edit() as config:
        config.add_profile(profile)
    return profile


def folder_of(profile: Profile) -> Path:
    return Path(profile.storage_config["filepath"])


def test_dry_run_lists_the_changes_and_writes_nothing(aiida_profile):
    before = tree_digest(folder_of(aiida_profile))
    result = CliRunner().invoke(cli, ["-p", "lab", "storage", "adopt", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "Would adopt" in result.output and "schema: aiida-core main_0002 -> provstore" in result.output
    assert tree_digest(folder_of(aiida_profile)) == before
    assert Config.load().get_profile("lab").storage_backend == "core.aiida_sqlite_dos"


def test_adopted_store_holds_everything_and_is_writable(aiida_profile, aiida_sqlite_store):
    folder = folder_of(aiida_profile)
    original = tree_digest(folder)["database.sqlite"]
    result = CliRunner().invoke(cli, ["-p", "lab", "storage", "adopt"])
    assert result.exit_code == 0, result.output
    assert Config.load().get_profile("lab").storage_backend == "core.sqlite_dos"
    digest = tree_digest(folder)
    assert digest["database.sqlite.aiida"] == original
    assert {name: value for name, value in digest.items() if name.startswith("container/")} == {
        name: value
        for name, value in tree_digest(aiida_sqlite_store["folder"]).items()
        if name.startswith("container/")
    }
    with open_storage("lab") as storage:
        assert snapshot(storage) == aiida_sqlite_store["snapshot"]
        storage.set_global_variable("adopted", True)
        node = storage.query().append("node", project="id").first()[0]
        assert storage.nodes.get(pk=node).uuid in aiida_sqlite_store["snapshot"]["nodes"]
        assert storage.get_info()["database"]["journal_mode"] == "wal"


def test_refused_while_another_process_has_the_database_open(aiida_profile):
    folder = folder_of(aiida_profile)
    before = tree_digest(folder)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1]); c.execute('SELECT 1');"
            " print('open', flush=True); time.sleep(120)",
            str(folder / "database.sqlite"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(LockedProfileError, match=rf"is open in process\(es\) {holder.pid}"):
            adopt.adopt_sqlite_dos(folder)
    finally:
        holder.kill()
        holder.wait()
    assert tree_digest(folder) == before


def test_a_failure_on_the_way_changes_nothing(aiida_profile, monkeypatch):
    folder = folder_of(aiida_profile)
    before = tree_digest(folder), sorted(path.name for path in folder.iterdir())

    def broken_validate(self, repository_uuid):
        raise RuntimeError("disk full")

    monkeypatch.setattr(adopt.SqlMigrator, "validate", broken_validate)
    with pytest.raises(RuntimeError, match="disk full"):
        adopt.adopt_sqlite_dos(folder)
    assert (tree_digest(folder), sorted(path.name for path in folder.iterdir())) == before
