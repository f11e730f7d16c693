"""``profile setup core.psql_dos``: create role and database with administrator credentials, or use existing ones."""

from __future__ import annotations

import uuid

import pytest
from click.testing import CliRunner
from provstore.cli import cli
from provstore.config import Profile
from provstore.exceptions import ConfigurationError, UnreachableStorage
from provstore.plugins import resolve_storage_class
from provstore.testing.profiles import make_profile
from psql_helpers import PASSWORD, setup_args

pytestmark = pytest.mark.postgres

ROLE_PASSWORD = "role-pw ' \" %41 secret"


def _names() -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:10]
    return f"role_{suffix}", f"db_{suffix}"


def _profile(cluster, tmp_path, role: str, database: str, password: str | None = ROLE_PASSWORD) -> Profile:
    settings = cluster.storage_config(database)
    settings.update(database_username=role, database_password=password)
    return make_profile("core.psql_dos", tmp_path, **settings)


@pytest.fixture
def names(password_cluster):
    role, database = _names()
    yield role, database
    password_cluster.drop_database(database)
    password_cluster.drop_role(role)


def test_setup_creates_role_and_database_then_storage_works(password_cluster, tmp_path, names):
    role, database = names
    profile = _profile(password_cluster, tmp_path, role, database)
    cls = resolve_storage_class(profile)
    options = cls.SetupOptions(admin_username=password_cluster.user, admin_password=PASSWORD)
    assert cls.setup_storage(profile, options) == {"role": True, "database": True}
    assert cls.setup_storage(profile, options) == {"role": False, "database": False}  # idempotent
    owner = password_cluster.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (database,))
    assert owner == [(role,)]
    assert cls.initialise(profile) is True
    with cls(profile) as storage:  # connects as the new role, with its password
        assert storage.get_info()["database"]["user"] == role
    wrong = _profile(password_cluster, tmp_path, role, database, password="not-it")
    with pytest.raises(UnreachableStorage, match="password authentication failed"):
        cls(wrong)


def test_setup_without_admin_uses_existing_role_and_database(password_cluster, tmp_path, names):
    role, database = names
    password_cluster.create_role(role, ROLE_PASSWORD)
    password_cluster.create_database(database, owner=role)
    profile = _profile(password_cluster, tmp_path, role, database)
    cls = resolve_storage_class(profile)
    assert cls.setup_storage(profile, cls.SetupOptions()) == {"role": False, "database": False}
    assert cls.initialise(profile) is True


def test_missing_database_without_createdb_says_how_to_set_it_up(password_cluster, tmp_path, names):
    role, database = names
    password_cluster.create_role(role, ROLE_PASSWORD)
    profile = _profile(password_cluster, tmp_path, role, database)
    with pytest.raises(UnreachableStorage, match=r"profile setup core\.psql_dos") as info:
        resolve_storage_class(profile).initialise(profile)
    assert ROLE_PASSWORD not in str(info.value)


def test_wrong_admin_password_is_masked(password_cluster, tmp_path, names):
    role, database = names
    profile = _profile(password_cluster, tmp_path, role, database)
    cls = resolve_storage_class(profile)
    bad = "bad-admin-" + PASSWORD
    with pytest.raises(UnreachableStorage, match="password authentication failed") as info:
        cls.setup_storage(profile, cls.SetupOptions(admin_username=password_cluster.user, admin_password=bad))
    assert bad not in str(info.value) and ROLE_PASSWORD not in str(info.value) and PASSWORD not in str(info.value)


@pytest.mark.parametrize("role", ['x"; DROP ROLE postgres; --', "has space", "9starts_with_digit"])
def test_unsafe_names_are_refused(password_cluster, tmp_path, role):
    profile = _profile(password_cluster, tmp_path, role, "db_never_created")
    cls = resolve_storage_class(profile)
    with pytest.raises(ConfigurationError, match="invalid PostgreSQL name"):
        cls.setup_storage(profile, cls.SetupOptions(admin_username=password_cluster.user, admin_password=PASSWORD))


def test_cli_setup_creates_everything_and_never_prints_passwords(password_cluster, tmp_path, names):
    role, database = names
    runner = CliRunner()
    args = [
        *setup_args(password_cluster, role, database, tmp_path),
        "--database-password", ROLE_PASSWORD,
        "--admin-username", password_cluster.user, "--admin-password", PASSWORD,
    ]  # fmt: skip
    result = runner.invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    shown = runner.invoke(cli, ["profile", "show", "pg"], catch_exceptions=False)
    info = runner.invoke(cli, ["--profile", "pg", "storage", "info"], catch_exceptions=False)
    assert info.exit_code == 0, info.output
    for output in (result.output, shown.output, info.output):
        assert ROLE_PASSWORD not in output and PASSWORD not in output
    assert database in info.output
