"""The errors of ``profile setup core.psql_dos`` about administrator credentials name the options that fix them."""

from __future__ import annotations

import uuid

import pytest
from click.testing import CliRunner
from provstore.cli import cli
from provstore.exceptions import UnreachableStorage
from provstore.plugins import resolve_storage_class
from provstore.testing.profiles import make_profile
from psql_helpers import PASSWORD, setup_args

pytestmark = pytest.mark.postgres


@pytest.fixture
def names(password_cluster):
    suffix = uuid.uuid4().hex[:10]
    role, database = f"role_{suffix}", f"db_{suffix}"
    yield role, database
    password_cluster.drop_database(database)
    password_cluster.drop_role(role)
    password_cluster.drop_role(f"weak_{suffix}")


def _setup_args(cluster, tmp_path, role: str, database: str, *extra: str) -> list[str]:
    return [*setup_args(cluster, role, database, tmp_path), "--database-password", "role-pw", *extra]


def test_missing_database_without_admin_names_the_admin_options(password_cluster, tmp_path, names):
    role, database = names
    password_cluster.create_role(role, "role-pw")  # may log in, may not create a database
    result = CliRunner().invoke(cli, _setup_args(password_cluster, tmp_path, role, database), catch_exceptions=False)
    assert result.exit_code == 1
    assert "--admin-username (and --admin-password)" in result.stderr, result.stderr
    assert len(result.stderr.splitlines()) == 1 and "role-pw" not in result.stderr


def test_admin_that_cannot_connect_is_named_with_its_options(password_cluster, tmp_path, names):
    role, database = names
    wrong = ("--admin-username", password_cluster.user, "--admin-password", "not-" + PASSWORD)
    result = CliRunner().invoke(
        cli, _setup_args(password_cluster, tmp_path, role, database, *wrong), catch_exceptions=False
    )
    assert result.exit_code == 1
    message = result.stderr
    assert message.startswith(f"Error: the administrator given with --admin-username {password_cluster.user!r}")
    assert "--admin-password" in message and "password authentication failed" in message
    assert PASSWORD not in message and len(message.splitlines()) == 1


def test_admin_without_rights_is_told_which_role_to_give(password_cluster, tmp_path, names):
    role, database = names
    weak = "weak_" + role.removeprefix("role_")
    password_cluster.create_role(weak, "weak-pw")  # logs in, may create neither roles nor databases
    profile = make_profile(
        "core.psql_dos",
        tmp_path,
        **{**password_cluster.storage_config(database), "database_username": role, "database_password": "role-pw"},
    )
    cls = resolve_storage_class(profile)
    with pytest.raises(UnreachableStorage, match=r"could not create role .*; give --admin-username \(and --admin"):
        cls.setup_storage(profile, cls.SetupOptions(admin_username=weak, admin_password="weak-pw"))
