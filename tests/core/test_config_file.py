"""The configuration file: location, round trip, atomic owner-only writes, and clear errors for broken files."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys

import pytest
from provstore.config import CONFIG_FILENAME, CONFIG_VERSION, Config, Profile, get_config_dir
from provstore.exceptions import ConfigurationError, ProfileNotFound


def make_profile(name: str = "main", **config) -> Profile:
    return Profile(name, {"storage": {"backend": "core.sqlite_dos", "config": config or {"filepath": "/x"}}})


def write_raw(directory, text: str):
    path = directory / CONFIG_FILENAME
    path.write_text(text)
    path.chmod(0o600)
    return path


def test_config_dir_from_environment(isolated_config_dir):
    assert get_config_dir() == isolated_config_dir


def test_config_dir_defaults_to_home(monkeypatch, tmp_path):
    monkeypatch.delenv("PROVSTORE_CONFIG_DIR")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert get_config_dir() == tmp_path / ".provstore"


def test_missing_file_gives_empty_config_without_creating_it(isolated_config_dir):
    config = Config.load()
    assert config.profile_names == []
    assert config.default_profile_name is None
    assert not (isolated_config_dir / CONFIG_FILENAME).exists()


def test_round_trip_and_file_layout(isolated_config_dir):
    config = Config.load()
    config.add_profile(make_profile("main", filepath="/data/main"))
    config.add_profile(make_profile("other"))
    config.save()
    data = json.loads((isolated_config_dir / CONFIG_FILENAME).read_text())
    assert data["version"] == CONFIG_VERSION
    assert data["default_profile"] == "main"  # the first profile becomes the default
    assert data["profiles"]["main"]["storage"]["config"] == {"filepath": "/data/main"}
    reloaded = Config.load()
    assert reloaded.profile_names == ["main", "other"]
    assert reloaded.get_profile() == make_profile("main", filepath="/data/main")


def test_file_and_directory_are_private(tmp_path, monkeypatch):
    directory = tmp_path / "new" / "config"
    monkeypatch.setenv("PROVSTORE_CONFIG_DIR", str(directory))
    config = Config.load()
    config.add_profile(make_profile())
    config.save()
    assert stat.S_IMODE((directory / CONFIG_FILENAME).stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700


def test_save_is_atomic_and_keeps_old_file_on_failure(isolated_config_dir, monkeypatch):
    config = Config.load()
    config.add_profile(make_profile("first"))
    config.save()
    before = (isolated_config_dir / CONFIG_FILENAME).read_text()

    def failing_replace(*_args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    config.add_profile(make_profile("second"))
    with pytest.raises(ConfigurationError, match=r"cannot write configuration file .*disk full"):
        config.save()
    assert (isolated_config_dir / CONFIG_FILENAME).read_text() == before
    assert sorted(p.name for p in isolated_config_dir.iterdir()) == [CONFIG_FILENAME]  # no temporary file left


def test_readable_file_warns_once_in_one_line(isolated_config_dir, caplog):
    path = write_raw(isolated_config_dir, json.dumps({"version": 1, "profiles": {}}))
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="provstore"):
        Config.load()
    [record] = caplog.records
    assert "readable by others" in record.getMessage() and "chmod 600" in record.getMessage()
    assert "\n" not in record.getMessage()


def test_private_file_does_not_warn(isolated_config_dir, caplog):
    write_raw(isolated_config_dir, json.dumps({"version": 1, "profiles": {}}))
    with caplog.at_level(logging.WARNING, logger="provstore"):
        Config.load()
    assert caplog.records == []


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"version": 1, "profiles": {', "is not valid JSON"),
        ("[1, 2]", "must hold a JSON object"),
        ('{"profiles": {}}', "no valid 'version' field"),
        ('{"version": "1", "profiles": {}}', "no valid 'version' field"),
        ('{"version": 99, "profiles": {}}', "newer provstore"),
        ('{"version": 1, "profile": {}}', "unknown key"),
        ('{"version": 1, "profiles": []}', "'profiles' must be an object"),
        ('{"version": 1, "profiles": {}, "default_profile": "gone"}', "names 'gone'"),
        ('{"version": 1, "profiles": {"p": {"storage": {}}}}', "'storage.backend' must be"),
    ],
)
def test_broken_file_is_reported_and_never_overwritten(isolated_config_dir, content, problem):
    path = write_raw(isolated_config_dir, content)
    with pytest.raises(ConfigurationError, match=problem) as error:
        Config.load()
    assert str(path) in str(error.value)
    assert "\n" not in str(error.value)
    assert path.read_text() == content


def test_profile_not_found_lists_existing_profiles():
    config = Config.load()
    config.add_profile(make_profile("alpha"))
    config.add_profile(make_profile("beta"))
    with pytest.raises(ProfileNotFound, match=r"'gamma' does not exist; existing profiles: alpha, beta"):
        config.get_profile("gamma")


def test_no_default_profile_is_explained():
    with pytest.raises(ProfileNotFound, match=r"no default profile is set.*presto"):
        Config.load().get_profile()


def test_add_refuses_duplicates_unless_overwrite():
    config = Config.load()
    config.add_profile(make_profile("main", filepath="/a"))
    with pytest.raises(ConfigurationError, match=r"already exists"):
        config.add_profile(make_profile("main", filepath="/b"))
    config.add_profile(make_profile("main", filepath="/b"), overwrite=True)
    assert config.get_profile("main").storage_config == {"filepath": "/b"}


def test_remove_and_set_default():
    config = Config.load()
    for name in ("a", "b"):
        config.add_profile(make_profile(name))
    config.set_default_profile("b")
    assert config.default_profile_name == "b"
    assert config.remove_profile("b").name == "b"
    assert config.default_profile_name is None
    assert config.profile_names == ["a"]
    with pytest.raises(ProfileNotFound):
        config.set_default_profile("b")
    with pytest.raises(ProfileNotFound):
        config.remove_profile("b")


def test_edit_saves_on_success_only(isolated_config_dir):
    with Config.edit() as config:
        config.add_profile(make_profile("kept"))
    with pytest.raises(RuntimeError), Config.edit() as config:
        config.add_profile(make_profile("dropped"))
        raise RuntimeError("abort the edit")
    assert Config.load().profile_names == ["kept"]


def test_edit_refuses_a_broken_file(isolated_config_dir):
    path = write_raw(isolated_config_dir, "{broken")
    with pytest.raises(ConfigurationError, match="not valid JSON"), Config.edit():
        pass
    assert path.read_text() == "{broken"


EDITOR = """
import sys, time
from provstore.config import Config, Profile
with Config.edit() as config:
    time.sleep(0.05)  # widen the read-modify-write window
    config.add_profile(Profile(sys.argv[1], {"storage": {"backend": "core.sqlite_dos"}}))
"""


def test_concurrent_edits_lose_nothing():
    names = [f"p{i}" for i in range(6)]
    editors = [subprocess.Popen([sys.executable, "-c", EDITOR, name]) for name in names]
    assert [editor.wait(timeout=60) for editor in editors] == [0] * len(names)
    assert Config.load().profile_names == names


@pytest.mark.parametrize("name", ["../escape", ".hidden", "-flag", "a/b", "with space", "x" * 101, "tab\t"])
def test_new_profile_names_must_be_safe_folder_names(name):
    with pytest.raises(ConfigurationError, match=r"invalid profile name"):
        Config.load().add_profile(make_profile(name))


@pytest.mark.parametrize("name", ["main", "Main-2", "a.b_c", "7"])
def test_valid_profile_names(name):
    config = Config.load()
    config.add_profile(make_profile(name))
    assert config.profile_names == [name]
