"""Archives both ways: aiida-core's ``.aiida`` files are inspected and imported by provstore, and provstore's
``archive create --format aiida`` files are imported by the real aiida-core 2.9.4 and compared there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from provstore import open_storage
from provstore.archive import create_archive, import_archive
from provstore.cli.root import cli
from provstore.config import Config, Profile
from provstore.exceptions import IncompatibleStorageSchema
from provstore.plugins import get_plugin_manager
from provstore.transfer import transfer_storage
from snapshot import snapshot

pytestmark = pytest.mark.slow


def new_store(tmp_path: Path, name: str) -> Profile:
    profile = Profile(name, {"storage": {"backend": "core.sqlite_dos", "config": {"filepath": str(tmp_path / name)}}})
    get_plugin_manager().get_storage_backend("core.sqlite_dos").initialise(profile)
    return profile


def test_cli_inspects_and_imports_an_aiida_archive(aiida_sqlite_store, tmp_path):
    archive = aiida_sqlite_store["archive"]
    before = archive.read_bytes()
    with Config.edit() as config:
        config.add_profile(new_store(tmp_path, "mine"))
    inspected = CliRunner().invoke(cli, ["archive", "inspect", "--json", str(archive)])
    assert inspected.exit_code == 0, inspected.output
    data = json.loads(inspected.output)
    assert data["format"] == "aiida-core" and data["export_version"] == "main_0001"
    assert data["counts"]["nodes"] == len(aiida_sqlite_store["archive_snapshot"]["nodes"])
    imported = CliRunner().invoke(cli, ["-p", "mine", "archive", "import", str(archive)])
    assert imported.exit_code == 0, imported.output
    assert "verification: passed" in imported.output
    with open_storage("mine") as storage:
        assert snapshot(storage) == aiida_sqlite_store["archive_snapshot"]
    assert archive.read_bytes() == before


def test_legacy_aiida_archive_is_named_with_the_migration_to_run(tmp_path):
    import zipfile

    path = tmp_path / "old.aiida"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", json.dumps({"export_version": "0.9", "aiida_version": "1.6.0"}))
        archive.writestr("data.json", "{}")
    with open_storage(new_store(tmp_path, "target")) as storage:
        with pytest.raises(IncompatibleStorageSchema, match=r"aiida-core archive version 0\.9.*verdi archive migrate"):
            import_archive(path, storage)


def test_aiida_format_archive_is_imported_by_aiida_core(aiida_sqlite_store, aiida, tmp_path):
    """aiida-core data goes through provstore and back: aiida-core imports provstore's archive identically."""
    source = Profile(
        "aiida",
        {"storage": {"backend": "core.aiida_sqlite_dos", "config": {"filepath": str(aiida_sqlite_store["folder"])}}},
    )
    with open_storage(source) as aiida_store, open_storage(new_store(tmp_path, "mine")) as mine:
        transfer_storage(aiida_store, mine)
        expected = snapshot(mine)
        path = tmp_path / "from_provstore.aiida"
        create_archive(mine, path, format="aiida")
    assert expected == aiida_sqlite_store["snapshot"]
    reread = Profile("reread", {"storage": {"backend": "core.aiida_archive", "config": {"filepath": str(path)}}})
    with open_storage(reread) as storage:
        assert snapshot(storage) == expected
    assert aiida.run("snapshot-archive", str(path)) == expected
    # aiida-core's import drops the `_aiida_hash` extras (it does so for its own archives too): compare with that
    imported = aiida.run("import", str(path), "core.sqlite_dos", json.dumps({"filepath": str(tmp_path / "ours")}))
    own = aiida.run(
        "import", str(aiida_sqlite_store["archive"]), "core.sqlite_dos", json.dumps({"filepath": str(tmp_path / "own")})
    )
    assert imported == own
    for node in expected["nodes"].values():
        node["extras"].pop("_aiida_hash")
    assert imported == expected
