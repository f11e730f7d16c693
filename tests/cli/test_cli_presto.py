"""``provstore presto`` and the storage commands on the real embedded default backend, core.sqlite_dos."""

from __future__ import annotations

import json
import stat

import provstore
import pytest
from provstore.config import CONFIG_FILENAME, Config


@pytest.mark.slow
def test_presto_then_storage_commands_in_fresh_processes(provstore_script, isolated_config_dir):
    created = provstore_script("presto")
    assert created.returncode == 0, created.stderr
    folder = isolated_config_dir / "storage" / "presto"
    assert created.stdout == f"Created default profile 'presto' on core.sqlite_dos in {folder}.\n"
    assert stat.S_IMODE((isolated_config_dir / CONFIG_FILENAME).stat().st_mode) == 0o600
    config = Config.load()
    assert config.default_profile_name == "presto"
    profile = config.get_profile()
    assert profile.storage_backend == "core.sqlite_dos"
    assert profile.storage_config["filepath"] == str(folder)
    assert profile.default_user_email == "presto@localhost"

    info = provstore_script("storage", "info", "--json")
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["entities"]["nodes"] == 0
    version = provstore_script("-p", "presto", "storage", "version")
    lines = version.stdout.splitlines()
    assert lines[0].split(":")[1].strip() == lines[1].split(":")[1].strip()  # initialised at the head version
    migrate = provstore_script("storage", "migrate")
    assert migrate.returncode == 0 and "already at schema version" in migrate.stdout
    for options in ([], ["--dry-run"], ["--full"], ["--full", "--dry-run"]):
        maintain = provstore_script("storage", "maintain", *options)
        assert maintain.returncode == 0, (options, maintain.stderr)


def test_presto_profile_opens_through_the_python_api(run):
    assert run("presto", "--profile-name", "api", "--email", "me@example.org").exit_code == 0
    with provstore.open_storage() as storage:
        assert storage.profile.name == "api"
        assert storage.get_info()["entities"]["nodes"] == 0
    assert storage.is_closed


def test_presto_refuses_an_existing_profile(run, isolated_config_dir):
    assert run("presto").exit_code == 0
    before = (isolated_config_dir / CONFIG_FILENAME).read_text()
    result = run("presto")
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: profile 'presto' already exists; choose another --profile-name\n",
    )
    assert (isolated_config_dir / CONFIG_FILENAME).read_text() == before


def test_presto_if_missing_reuses_an_existing_profile(run, isolated_config_dir):
    assert run("presto").exit_code == 0
    before = (isolated_config_dir / CONFIG_FILENAME).read_text()
    result = run("presto", "--if-missing")
    assert (result.exit_code, result.output) == (0, "Profile 'presto' exists already; using it.\n")
    assert (isolated_config_dir / CONFIG_FILENAME).read_text() == before


def test_presto_refuses_an_existing_storage_folder(run, isolated_config_dir):
    folder = isolated_config_dir / "storage" / "old"
    folder.mkdir(parents=True)
    result = run("presto", "--profile-name", "old")
    assert result.exit_code == 1
    assert result.stderr == f"Error: storage folder {folder} already exists; remove it or choose another name\n"
    assert Config.load().profile_names == []


def test_second_presto_becomes_the_default(run):
    assert run("presto").exit_code == 0
    assert run("presto", "--profile-name", "second").exit_code == 0
    config = Config.load()
    assert config.profile_names == ["presto", "second"]
    assert config.default_profile_name == "second"


def test_presto_refuses_a_name_that_is_not_a_folder_name(run, isolated_config_dir):
    result = run("presto", "--profile-name", "../outside")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: invalid profile name '../outside'")
    assert not (isolated_config_dir / "outside").exists()
    assert not (isolated_config_dir / "storage").exists()


def test_profile_delete_removes_the_data_of_a_presto_profile(run, isolated_config_dir):
    assert run("presto").exit_code == 0
    folder = isolated_config_dir / "storage" / "presto"
    with provstore.open_storage() as storage:
        node = storage.nodes.create(node_type="data.core.dict.", label="x")
        node.put_object_from_bytes(b"content", "file.txt")
        node.store()
    assert (folder / "database.sqlite").is_file() and (folder / "container").is_dir()
    result = run("profile", "delete", "presto", "--force")
    assert (result.exit_code, result.output) == (
        0,
        "Deleted profile 'presto'; removed its storage (core.sqlite_dos) and repository (core.diskobjectstore).\n",
    )
    assert not folder.exists()
    assert Config.load().profile_names == []


def test_profile_delete_refuses_while_the_storage_is_open(run, isolated_config_dir):
    assert run("presto").exit_code == 0
    with provstore.open_storage():
        result = run("profile", "delete", "presto", "--force")
    assert result.exit_code == 1 and result.stderr.startswith("Error: ")
    assert Config.load().profile_names == ["presto"]
    assert (isolated_config_dir / "storage" / "presto" / "database.sqlite").is_file()


def test_presto_without_the_sqlite_plugin_names_what_to_install(provstore_script, isolated_config_dir):
    result = provstore_script("presto", PROVSTORE_DISABLE_PLUGINS="sqlite_dos")
    assert result.returncode == 1
    assert result.stderr == (
        "Error: presto needs the embedded backend core.sqlite_dos, which is not installed: "
        "pip install 'provstore[sqlite]'\n"
    )
    assert not (isolated_config_dir / CONFIG_FILENAME).exists()
