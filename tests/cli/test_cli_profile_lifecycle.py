"""Profile delete and setup end all-or-nothing (issue 20, items 1, 2, 5): the real console script."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import provstore
import pytest


def _setup(provstore_script, name: str, folder: Path) -> None:
    result = provstore_script("profile", "setup", "core.sqlite_dos", "--profile-name", name, "--filepath", str(folder))
    assert result.returncode == 0, result.stderr


def _config_file() -> Path:
    return Path(os.environ["PROVSTORE_CONFIG_DIR"]) / "config.json"


def test_delete_refuses_before_deleting_when_the_repository_plugin_is_missing(provstore_script, tmp_path):
    folder = tmp_path / "blobs2"
    _setup(provstore_script, "blobs2", folder)
    config = json.loads(_config_file().read_text())
    config["profiles"]["blobs2"]["repository"] = {"backend": "mylab.dirblobs", "config": {}}
    _config_file().write_text(json.dumps(config))

    result = provstore_script("profile", "delete", "blobs2", "--force")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert "mylab.dirblobs" in result.stderr and "--keep-data" in result.stderr
    assert (folder / "database.sqlite").is_file()
    assert "blobs2" in provstore_script("profile", "list").stdout

    result = provstore_script("profile", "delete", "blobs2", "--force", "--keep-data")
    assert result.returncode == 0, result.stderr
    assert "kept" in result.stdout
    assert (folder / "database.sqlite").is_file()
    assert "blobs2" not in provstore_script("profile", "list").stdout


def test_delete_of_a_profile_whose_folder_is_gone(provstore_script, tmp_path):
    folder = tmp_path / "gone"
    _setup(provstore_script, "gone", folder)
    shutil.rmtree(folder)
    result = provstore_script("profile", "delete", "gone", "--force")
    assert result.returncode == 0, result.stderr
    assert "gone" not in provstore_script("profile", "list").stdout
    assert not folder.exists()


def test_delete_says_what_it_removed(provstore_script, tmp_path):
    folder = tmp_path / "full"
    _setup(provstore_script, "full", folder)
    result = provstore_script("profile", "delete", "full", "--force")
    assert result.returncode == 0, result.stderr
    assert "removed" in result.stdout and "repository" in result.stdout
    assert not folder.exists()


def _psql_setup(run, name: str, database: dict, repository: Path):
    options = [f"--{key.replace('_', '-')}={value}" for key, value in database.items()]
    return run(
        "profile", "setup", "core.psql_dos", "--profile-name", name, *options, "--repository-uri", str(repository)
    )


@pytest.mark.postgres
def test_setup_refuses_a_database_initialised_with_another_repository(run, pg_database, tmp_path):
    assert _psql_setup(run, "first", pg_database, tmp_path / "first-files").exit_code == 0
    before = _config_file().read_text()

    result = _psql_setup(run, "envpw", pg_database, tmp_path / "other-files")
    assert result.exit_code == 1
    assert result.output.count("\n") == 1, result.output
    assert "Created" not in result.output and "profile 'envpw' was not created" in result.output
    assert _config_file().read_text() == before
    assert not (tmp_path / "other-files").exists()
    with provstore.open_storage("first") as storage:  # the other profile's storage is untouched
        assert storage.nodes.count() == 0


def test_a_relative_filepath_is_saved_absolute(run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run("profile", "setup", "core.sqlite_dos", "--profile-name", "rel", "--filepath", "store").exit_code == 0
    saved = json.loads(_config_file().read_text())["profiles"]["rel"]["storage"]["config"]["filepath"]
    assert saved == str(tmp_path / "store")
    monkeypatch.chdir("/")
    with provstore.open_storage("rel") as storage:
        assert storage.nodes.count() == 0


@pytest.mark.parametrize(
    ("group", "backend", "field", "extra"),
    [
        ("repository", "core.diskobjectstore", "filepath", {}),
        ("repository", "core.sandbox", "filepath", {}),
        ("storage", "core.sqlite_dos", "filepath", {}),
        ("storage", "core.psql_dos", "repository_uri", {"database_username": "u", "database_name": "d"}),
    ],
)
def test_path_fields_of_the_backends_are_made_absolute(group, backend, field, extra, tmp_path, monkeypatch):
    from provstore.config import validate_backend_config
    from provstore.plugins import get_plugin_manager

    monkeypatch.chdir(tmp_path)
    backend_cls = get_plugin_manager().get_backend(group, backend)
    config = validate_backend_config(backend_cls, {field: "sub/dir", **extra})
    assert getattr(config, field) == str(tmp_path / "sub" / "dir")
    home = validate_backend_config(backend_cls, {field: "~/x", **extra})
    assert getattr(home, field) == str(Path.home() / "x")


def test_set_user_gives_a_profile_made_without_email_its_default_user(run, tmp_path):
    assert (
        run(
            "profile", "setup", "core.sqlite_dos", "--profile-name", "nomail", "--filepath", str(tmp_path / "s")
        ).exit_code
        == 0
    )
    result = run("profile", "set-user", "nomail", "ada@example.org")
    assert (result.exit_code, result.output) == (0, "Profile 'nomail': default user is now 'ada@example.org'.\n")
    with provstore.open_storage("nomail") as storage:  # the entities guide's first example, without user=
        data = storage.nodes.create(node_type="data.core.dict.Dict.", label="input").store()
        assert data.user.email == "ada@example.org"
    assert run("profile", "set-user", "missing", "a@b.c").exit_code == 1
