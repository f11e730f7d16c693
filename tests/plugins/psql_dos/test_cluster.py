"""The throwaway cluster helper: bound to loopback only, private socket, removed on stop, clear errors."""

from __future__ import annotations

import os
import socket

import psycopg2
import pytest
from provstore_psql_dos import testing as postgres
from provstore_psql_dos.testing import ExternalPostgres, PostgresCluster, PostgresClusterError
from psql_helpers import PASSWORD, start_cluster

pytestmark = pytest.mark.postgres


def _setting(server: postgres.PostgresServer, name: str) -> str:
    return server.execute(f"SHOW {name}")[0][0]


def test_session_cluster_listens_on_loopback_only(pg_cluster):
    if not isinstance(pg_cluster, PostgresCluster):
        pytest.skip("tests run against an external server ($PROVSTORE_TEST_PG_DSN)")
    assert _setting(pg_cluster, "listen_addresses") == "127.0.0.1"
    assert _setting(pg_cluster, "port") == str(pg_cluster.port)
    assert _setting(pg_cluster, "unix_socket_directories").startswith(pg_cluster.basedir)
    assert _setting(pg_cluster, "fsync") == "off"


def test_stop_removes_the_server_and_its_folder():
    cluster = start_cluster()
    basedir, port = cluster.basedir, cluster.port
    assert cluster.is_running and os.path.isdir(basedir)
    cluster.stop()
    assert not cluster.is_running
    assert not os.path.exists(basedir)
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    cluster.stop()  # idempotent


def test_password_cluster_needs_the_password(password_cluster):
    params = password_cluster.connection_params()
    assert params["password"] == PASSWORD
    psycopg2.connect(**params).close()
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(**{**params, "password": "wrong"})


def test_repr_never_shows_the_password(password_cluster):
    assert PASSWORD not in repr(password_cluster)


def test_create_and_drop_database(pg_cluster):
    params = pg_cluster.create_database("helper_test_db")
    try:
        assert pg_cluster.execute("SELECT current_database()", dbname=params["dbname"]) == [("helper_test_db",)]
    finally:
        pg_cluster.drop_database("helper_test_db")
    assert pg_cluster.execute("SELECT 1 FROM pg_database WHERE datname = 'helper_test_db'") == []


@pytest.mark.parametrize("name", ["bad name", 'x"; DROP DATABASE postgres; --', "1abc", ""])
def test_database_names_are_checked(pg_cluster, name):
    with pytest.raises(PostgresClusterError, match="invalid database name"):
        pg_cluster.create_database(name)


def test_missing_binaries_give_an_install_hint(monkeypatch, tmp_path):
    monkeypatch.setenv(postgres.BINDIR_ENV_VAR, str(tmp_path))
    monkeypatch.setattr(postgres.shutil, "which", lambda name: None)
    monkeypatch.setattr(postgres.glob, "glob", lambda pattern: [])
    with pytest.raises(PostgresClusterError, match="apt-get install postgresql"):
        postgres.find_bindir()


def test_external_server_from_dsn():
    server = ExternalPostgres.from_dsn("postgresql://ad%40min:p%3Ass@db.example:6543/maint")
    assert (server.host, server.port, server.user, server.password, server.dbname) == (
        "db.example",
        6543,
        "ad@min",
        "p:ss",
        "maint",
    )
    assert server.dsn() == "postgresql://ad%40min:p%3Ass@db.example:6543/maint"
    with pytest.raises(PostgresClusterError, match="PROVSTORE_TEST_PG_DSN"):
        ExternalPostgres.from_dsn("mysql://x@y/z")


def test_test_server_prefers_the_dsn(monkeypatch):
    monkeypatch.setenv(postgres.DSN_ENV_VAR, "postgresql://someone@127.0.0.1:1/db")
    server = postgres.test_server()
    assert isinstance(server, ExternalPostgres) and server.port == 1
