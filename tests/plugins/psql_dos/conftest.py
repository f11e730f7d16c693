"""Fixtures of the PostgreSQL-specific tests: profiles on fresh databases of the session's throwaway cluster."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from provstore.config import Profile
from provstore.plugins import resolve_storage_class
from provstore.testing.profiles import make_profile
from provstore_psql_dos.testing import PostgresServer
from psql_helpers import PASSWORD, start_cluster


@pytest.fixture
def psql_profile(pg_database: dict[str, Any], tmp_path: Path) -> Profile:
    """Return an uninitialised ``core.psql_dos`` profile on a fresh, empty database."""
    return make_profile("core.psql_dos", tmp_path, **pg_database)


@pytest.fixture
def psql_storage(psql_profile: Profile) -> Iterator[Any]:
    """Yield an initialised, open ``core.psql_dos`` storage; closed afterwards."""
    resolve_storage_class(psql_profile).initialise(psql_profile)
    storage = resolve_storage_class(psql_profile)(psql_profile)
    yield storage
    storage.close()


@pytest.fixture(scope="session")
def password_cluster() -> Iterator[PostgresServer]:
    """Yield a second throwaway cluster whose TCP connections need the superuser's password ``PASSWORD``."""
    cluster = start_cluster(password=PASSWORD)
    yield cluster
    cluster.stop()


@pytest.fixture
def password_profile(password_cluster: PostgresServer, tmp_path: Path) -> Iterator[Profile]:
    """Return an uninitialised profile on a fresh database of the password cluster."""
    name = f"pw_{uuid.uuid4().hex[:12]}"
    password_cluster.create_database(name)
    yield make_profile("core.psql_dos", tmp_path, **password_cluster.storage_config(name))
    password_cluster.drop_database(name)
