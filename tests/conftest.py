"""What every test shares: its own configuration folder, only this checkout's plugins, and the common fixtures.

The folders follow the distributions: ``core`` (the core alone, on the test plugin of ``core/fake_plugin``),
``sql`` (provstore-sql on the built-in SQL backends), ``plugins/<name>`` (one built-in plugin each), ``cli``
(the console script end to end), ``packaging``, ``reliability``, ``perf``; ``support`` holds helper modules
that several folders import (``tests/`` is on ``sys.path``).

Installed provstore plugins that this checkout does not ship are blocked for the whole run (see
:mod:`support.isolation`). The PostgreSQL fixtures ``pg_cluster`` and ``pg_database`` come from the psql_dos
plugin's testing support.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from provstore.plugins import resolve_storage_class
from support.isolation import block_foreign_plugins

# the conformance kit's provstore_* fixtures (installing provstore loads no pytest plugin by itself)
pytest_plugins = ["provstore.testing.fixtures", "provstore_psql_dos.testing.fixtures"]

FAKE_PLUGIN_DIR = Path(__file__).parent / "core" / "fake_plugin"
BLOCKED_PLUGINS: list[str] = []
"""The installed plugins of other distributions that this run blocks (filled when pytest starts)."""


def pytest_configure(config: pytest.Config) -> None:
    """Block every installed provstore plugin of another distribution, before any plugin manager exists."""
    from provstore.plugins import reset_plugin_manager

    BLOCKED_PLUGINS[:] = block_foreign_plugins()
    reset_plugin_manager()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every performance gate ``slow`` too, so that the fast tier (``-m "not slow"``) never runs one."""
    for item in items:
        if item.get_closest_marker("perf") is not None and item.get_closest_marker("slow") is None:
            item.add_marker(pytest.mark.slow)


def pytest_report_header(config: pytest.Config) -> str:
    """Say which installed provstore plugins the run blocks."""
    return f"provstore plugins of other distributions, blocked: {', '.join(BLOCKED_PLUGINS) or 'none installed'}"


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


@pytest.fixture
def run():
    """Return a function running the CLI in-process: ``run("profile", "list", input=...)`` -> click Result."""
    from provstore.cli import cli

    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(cli, list(args), input=input, catch_exceptions=False)

    return invoke


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
    resolve_storage_class(profile).initialise(profile)
    backend = resolve_storage_class(profile)(profile)
    yield backend
    backend.close()


@pytest.fixture
def user_id(storage) -> int:
    """Return the pk of a user inserted into the storage under test."""
    from provstore.storage import EntityTypes
    from support.rows import user_row

    return storage.bulk_insert(EntityTypes.USER, [user_row()])[0]
