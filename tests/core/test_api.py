"""provstore.load_profile and provstore.open_storage on the test plugin's storage."""

from __future__ import annotations

import importlib.metadata

import provstore
import pytest
from provstore.config import Config, Profile
from provstore.exceptions import ConfigurationError, PluginNotFound, ProfileNotFound, UnreachableStorage
from provstore.plugins import resolve_storage_class


def save_profile(name: str, attributes: dict) -> Profile:
    config = Config.load()
    profile = Profile(name, attributes)
    config.add_profile(profile)
    config.save()
    return profile


def fake_attributes(folder, **config) -> dict:
    return {"storage": {"backend": "testfake.store", "config": {"folder": str(folder), **config}}}


def test_version_matches_the_distribution():
    assert provstore.__version__ == importlib.metadata.version("provstore")


def test_hookimpl_is_exported():
    assert provstore.hookimpl is provstore.hookspecs.hookimpl


def test_load_profile_default_and_by_name(tmp_path):
    save_profile("first", fake_attributes(tmp_path))
    save_profile("second", fake_attributes(tmp_path))
    assert provstore.load_profile().name == "first"
    assert provstore.load_profile("second").name == "second"
    with pytest.raises(ProfileNotFound, match=r"existing profiles: first, second"):
        provstore.load_profile("third")


def test_open_storage_validates_then_opens(fake_plugin, tmp_path):
    profile = save_profile("main", fake_attributes(tmp_path / "store"))
    resolve_storage_class(profile).initialise(profile)
    for selector in (None, "main", profile):
        with provstore.open_storage(selector) as storage:
            assert type(storage).__name__ == "FakeStorage"
            assert storage.profile == profile
            assert not storage.is_closed
        assert storage.is_closed


def test_open_storage_reports_invalid_config_with_profile_and_field(fake_plugin, tmp_path):
    save_profile("main", fake_attributes(tmp_path, port="high", password="hunter2"))
    with pytest.raises(ConfigurationError) as error:
        provstore.open_storage()
    assert str(error.value).startswith("profile 'main': invalid configuration for FakeStorage: field 'port'")
    assert "hunter2" not in str(error.value)


def test_open_storage_passes_backend_errors_through(fake_plugin, tmp_path):
    save_profile("main", fake_attributes(tmp_path / "never-initialised"))
    with pytest.raises(UnreachableStorage, match=r"no test storage"):
        provstore.open_storage("main")


def test_open_storage_of_an_uninstalled_backend(tmp_path):
    save_profile("main", {"storage": {"backend": "nobody.provides_this"}})
    with pytest.raises(PluginNotFound, match=r"no storage backend named 'nobody.provides_this'"):
        provstore.open_storage()
