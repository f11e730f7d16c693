"""Shared fixtures: every test runs with its own configuration directory, never the user's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# the conformance kit's provstore_* fixtures (installing provstore loads no pytest plugin by itself)
pytest_plugins = ["provstore.testing.fixtures"]

FAKE_PLUGIN_DIR = Path(__file__).parent / "core" / "fake_plugin"


@pytest.fixture
def fake_plugin(monkeypatch):
    """Register the test plugin (backends ``testfake.store``, ``testfake.hidden``) with a fresh plugin manager."""
    from provstore.plugins import get_plugin_manager, reset_plugin_manager

    monkeypatch.syspath_prepend(str(FAKE_PLUGIN_DIR))
    reset_plugin_manager()
    import testfake_plugin.plugin

    get_plugin_manager().register(testfake_plugin.plugin, "testfake")
    yield get_plugin_manager()
    reset_plugin_manager()


@pytest.fixture(autouse=True)
def isolated_config_dir(tmp_path_factory, monkeypatch):
    """Point PROVSTORE_CONFIG_DIR at a fresh folder so tests never read or write ~/.provstore."""
    path = tmp_path_factory.mktemp("provstore_config")
    monkeypatch.setenv("PROVSTORE_CONFIG_DIR", str(path))
    return path


# ----------------------------------------------------------------------------- SQL storage backends
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every test using ``storage`` once per available SQL backend."""
    if "sql_backend" in metafunc.fixturenames:
        from provstore.testing.profiles import available_sql_backends

        backends = available_sql_backends()
        marks = {"core.psql_dos": pytest.mark.postgres}
        metafunc.parametrize(
            "sql_backend", [pytest.param(name, marks=marks.get(name, ()), id=name) for name in backends]
        )


@pytest.fixture
def sql_backend() -> str | None:
    """Return the SQL backend under test (set by parametrisation)."""
    return None


@pytest.fixture
def storage(request: pytest.FixtureRequest, sql_backend: str | None, tmp_path):
    """Yield an initialised, open storage of ``sql_backend`` (profile from ``make_profile``); closed after."""
    from provstore.testing.profiles import make_profile

    extra = request.getfixturevalue("pg_database") if sql_backend == "core.psql_dos" else {}
    profile = make_profile(sql_backend, tmp_path, **extra)
    profile.storage_cls.initialise(profile)
    backend = profile.storage_cls(profile)
    yield backend
    backend.close()


# ------------------------------------------------------------------------------------------------ PostgreSQL
@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Any]:
    """Return a PostgreSQL server for the whole session: ``$PROVSTORE_TEST_PG_DSN`` if set, else a throwaway cluster.

    The throwaway cluster listens on 127.0.0.1 only and is stopped and deleted when the session ends. Without
    PostgreSQL binaries the requesting tests fail with an install hint; deselect them with ``-m "not postgres"``.
    """
    from provstore.testing.postgres import PostgresClusterError, test_server

    try:
        server = test_server()
    except PostgresClusterError as exc:
        pytest.fail(f"{exc} (or skip these tests with -m 'not postgres')", pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def pg_database(pg_cluster: Any) -> Iterator[dict[str, Any]]:
    """Create a fresh database on :func:`pg_cluster` for one test, as ``core.psql_dos`` settings; dropped after."""
    import uuid

    name = f"test_{uuid.uuid4().hex[:16]}"
    pg_cluster.create_database(name)
    yield pg_cluster.storage_config(name)
    pg_cluster.drop_database(name)
