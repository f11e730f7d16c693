"""Profile: its dictionary form, validation, and resolution of its backend names through the plugins."""

from __future__ import annotations

import pytest
from provstore.config import Profile
from provstore.exceptions import ConfigurationError, PluginNotFound


def test_properties():
    profile = Profile(
        "main",
        {
            "storage": {"backend": "core.psql_dos", "config": {"database_password": "s3cret"}},
            "repository": {"backend": "core.diskobjectstore", "config": {"filepath": "/r"}},
            "default_user_email": "me@example.org",
        },
    )
    assert profile.name == "main"
    assert profile.storage_backend == "core.psql_dos"
    assert profile.storage_config == {"database_password": "s3cret"}
    assert profile.repository_backend == "core.diskobjectstore"
    assert profile.repository_config == {"filepath": "/r"}
    assert profile.default_user_email == "me@example.org"
    assert profile.options == {}
    assert "s3cret" not in repr(profile)


def test_dictionary_is_a_copy():
    profile = Profile("main", {"storage": {"backend": "x.y"}})
    data = profile.dictionary
    data["storage"]["config"]["changed"] = True
    assert profile.storage_config == {}


@pytest.mark.parametrize(
    ("name", "attributes", "problem"),
    [
        ("", {"storage": {"backend": "x.y"}}, "invalid profile name"),
        ("p", [], "must be a mapping"),
        ("p", {}, "'storage.backend'"),
        ("p", {"storage": {"backend": "x.y", "config": []}}, "'storage.config'"),
        ("p", {"storage": {"backend": "x.y"}, "repository": {"config": {}}}, "'repository.backend'"),
    ],
)
def test_malformed_profile(name, attributes, problem):
    with pytest.raises(ConfigurationError, match=problem):
        Profile(name, attributes)


def test_storage_cls_resolves_through_the_plugins(fake_plugin):
    from testfake_plugin.backend import FakeStorage

    profile = Profile("p", {"storage": {"backend": "testfake.store", "config": {}}})
    assert profile.storage_cls is FakeStorage
    assert profile.repository_backend is None  # the backend's default: it holds no files


def test_unknown_backend_is_a_clear_error(fake_plugin):
    profile = Profile("p", {"storage": {"backend": "testfake.stor"}})
    with pytest.raises(PluginNotFound, match=r"did you mean 'testfake.store'"):
        _ = profile.storage_cls
