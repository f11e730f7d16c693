"""Connection failures are one clear UnreachableStorage naming the server, and the password never leaks."""

from __future__ import annotations

import json
import logging
import traceback

import pytest
from provstore.config import Profile
from provstore.exceptions import ConfigurationError, UnreachableStorage
from provstore.plugins import resolve_storage_class
from provstore.testing.profiles import make_profile
from provstore_psql_dos.testing import _free_port
from psql_helpers import PASSWORD

pytestmark = pytest.mark.postgres


def _with(profile: Profile, **changes) -> Profile:
    data = profile.dictionary
    data["storage"]["config"].update(changes)
    return Profile(profile.name, data)


def _assert_masked(text: str) -> None:
    assert PASSWORD not in text
    assert "pass' word" not in text
    assert "s3cret" not in text


def _fully(exc: BaseException) -> str:
    """Return everything a user could see of an exception: message, repr and printed traceback."""
    return "\n".join([str(exc), repr(exc), *traceback.format_exception(exc)])


def test_unreachable_port_names_the_server(password_profile):
    port = _free_port()
    profile = _with(password_profile, database_port=port)
    with pytest.raises(UnreachableStorage) as info:
        resolve_storage_class(profile)(profile)
    message = str(info.value)
    config = profile.storage_config
    assert f"127.0.0.1:{port}" in message
    assert repr(config["database_name"]) in message and repr(config["database_username"]) in message
    assert "password: ***" in message
    assert "\n" not in message
    _assert_masked(_fully(info.value))


@pytest.mark.parametrize("action", ["open", "version_profile", "initialise", "migrate"])
def test_wrong_password_is_unreachable_storage(password_profile, action):
    profile = _with(password_profile, database_password="wrong-" + PASSWORD)
    with pytest.raises(UnreachableStorage, match="password authentication failed") as info:
        if action == "open":
            resolve_storage_class(profile)(profile)
        else:
            getattr(resolve_storage_class(profile), action)(profile)
    _assert_masked(_fully(info.value))
    assert "wrong-" not in _fully(info.value)


def test_missing_database(pg_cluster, tmp_path):
    profile = make_profile("core.psql_dos", tmp_path, **pg_cluster.storage_config("no_such_database"))
    assert resolve_storage_class(profile).version_profile(profile) is None
    with pytest.raises(UnreachableStorage, match='database "no_such_database" does not exist'):
        resolve_storage_class(profile)(profile)


def test_initialise_creates_a_missing_database(pg_cluster, tmp_path):
    profile = make_profile("core.psql_dos", tmp_path, **pg_cluster.storage_config("created_by_initialise"))
    try:
        assert resolve_storage_class(profile).initialise(profile) is True
        assert resolve_storage_class(profile).version_profile(profile) == resolve_storage_class(profile).version_head()
        with resolve_storage_class(profile)(profile) as storage:
            assert storage.get_info()["database"]["database"] == "created_by_initialise"
    finally:
        pg_cluster.drop_database("created_by_initialise")


def test_password_never_in_repr_str_info_or_logs(password_profile, caplog):
    caplog.set_level(logging.DEBUG)
    profile = _with(password_profile, engine_kwargs={"echo": True})
    resolve_storage_class(profile).initialise(profile)
    storage = resolve_storage_class(profile)(profile)
    try:
        storage.set_global_variable("key", "value")
        texts = [
            repr(storage),
            str(storage),
            json.dumps(storage.get_info(detailed=True)),
            repr(profile),
            repr(storage._engine.url),
            repr(storage.maintain(dry_run=True)),
        ]
    finally:
        storage.close()
    with pytest.raises(UnreachableStorage) as info:
        resolve_storage_class(_with(profile, database_password="other"))(_with(profile, database_password="other"))
    for text in [*texts, _fully(info.value), caplog.text]:
        _assert_masked(text)
    assert "SELECT" in caplog.text  # the engine really logged its statements


def test_invalid_configuration_names_fields_without_values(psql_profile):
    profile = _with(psql_profile, database_port="not-a-port", database_password=12345678)
    with pytest.raises(ConfigurationError) as info:
        resolve_storage_class(profile)(profile)
    message = str(info.value)
    assert "database_port" in message and "database_password" in message
    assert "12345678" not in message and "not-a-port" not in message


def test_unknown_setting_is_refused(psql_profile):
    profile = _with(psql_profile, database_passwd="typo")
    with pytest.raises(ConfigurationError, match="database_passwd"):
        resolve_storage_class(profile).version_profile(profile)


def test_repository_uri_accepts_file_uris(psql_profile, tmp_path):
    folder = tmp_path / "some folder"
    profile = _with(psql_profile, repository_uri=folder.as_uri())
    resolve_storage_class(profile).initialise(profile)
    with resolve_storage_class(profile)(profile) as storage:
        assert storage.get_info()["repository"]["folder"] == str(folder)
    assert folder.is_dir()
    with pytest.raises(ConfigurationError, match="repository_uri"):
        resolve_storage_class(_with(psql_profile, repository_uri="s3://bucket/x")).version_profile(
            _with(psql_profile, repository_uri="s3://bucket/x")
        )


def test_bad_engine_kwargs_are_a_configuration_error(psql_profile):
    resolve_storage_class(psql_profile).initialise(psql_profile)
    with pytest.raises(ConfigurationError, match="invalid engine_kwargs"):
        resolve_storage_class(_with(psql_profile, engine_kwargs={"no_such_argument": 1}))(
            _with(psql_profile, engine_kwargs={"no_such_argument": 1})
        )


def test_connect_args_apply_to_every_connection(psql_profile):
    profile = _with(psql_profile, engine_kwargs={"connect_args": {"application_name": "custom-app"}})
    resolve_storage_class(profile).initialise(profile)
    with resolve_storage_class(profile)(profile) as storage:
        names = (
            storage.get_session()
            .connection()
            .exec_driver_sql(
                "SELECT application_name FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name <> ''"
            )
            .scalars()
            .all()
        )
    assert names and set(names) == {"custom-app"}  # the engine's sessions and the lock's connection
