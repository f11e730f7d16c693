"""pytest fixtures of a throwaway PostgreSQL server, for the tests of backends that store in PostgreSQL.

Not loaded by default (installing provstore-psql-dos changes no pytest session): a test suite asks for them
in its top-level ``conftest.py``::

    pytest_plugins = ["provstore_psql_dos.testing.fixtures"]
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from provstore_psql_dos.testing import PostgresClusterError, PostgresServer, test_server


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresServer]:
    """Return a PostgreSQL server for the whole session: ``$PROVSTORE_TEST_PG_DSN`` if set, else a throwaway cluster.

    The throwaway cluster (see :mod:`provstore_psql_dos.testing`) listens on 127.0.0.1 only and is stopped
    and deleted when the session ends. Without PostgreSQL binaries the requesting tests fail with an install
    hint; deselect them with ``-m "not postgres"``.
    """
    try:
        server = test_server()
    except PostgresClusterError as exc:
        pytest.fail(f"{exc} (or skip these tests with -m 'not postgres')", pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def pg_database(pg_cluster: PostgresServer) -> Iterator[dict[str, Any]]:
    """Create a fresh database on :func:`pg_cluster` for one test and drop it afterwards.

    Returns its connection settings in the form of a ``core.psql_dos`` configuration (``database_hostname``,
    ``database_port``, ``database_username``, ``database_password``, ``database_name``).
    """
    name = f"test_{uuid.uuid4().hex[:16]}"
    pg_cluster.create_database(name)
    yield pg_cluster.storage_config(name)
    pg_cluster.drop_database(name)
