"""Profile: its dictionary form, validation, and resolution of its backend names through the plugins."""

from __future__ import annotations

import pytest
from provstore.config import Profile
from provstore.exceptions import ConfigurationError, PluginNotFound
from provstore.plugins import resolve_repository_class, resolve_storage_class
from provstore.storage import StorageBackend


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


def test_storage_class_resolves_through_the_plugins(fake_plugin):
    from testfake_plugin.backend import FakeStorage

    profile = Profile("p", {"storage": {"backend": "testfake.store", "config": {}}})
    assert resolve_storage_class(profile) is FakeStorage
    assert profile.repository_backend is None  # the profile names none
    assert resolve_repository_class(profile) is None  # and the backend's default is none: it holds no files
    with pytest.raises(ConfigurationError, match="names no repository backend"):
        StorageBackend.repository_for(profile)


def test_repository_resolves_from_the_profile_else_the_storage_default():
    from provstore_sandbox.backend import SandboxRepositoryBackend

    named = Profile("p", {"storage": {"backend": "core.sqlite_temp"}, "repository": {"backend": "core.sandbox"}})
    assert named.repository_backend == "core.sandbox"
    default = Profile("p", {"storage": {"backend": "core.sqlite_temp"}})
    assert default.repository_backend is None  # data only: the storage class's default is not the profile's
    for profile in (named, default):
        assert resolve_repository_class(profile) is SandboxRepositoryBackend
        repository = StorageBackend.repository_for(profile)
        assert isinstance(repository, SandboxRepositoryBackend)
        repository.close()


def test_unknown_backend_is_a_clear_error(fake_plugin):
    profile = Profile("p", {"storage": {"backend": "testfake.stor"}})
    with pytest.raises(PluginNotFound, match=r"did you mean 'testfake.store'"):
        _ = resolve_storage_class(profile)
