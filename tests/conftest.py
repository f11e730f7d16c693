"""Shared fixtures: every test runs with its own configuration directory, never the user's."""

from __future__ import annotations

from pathlib import Path

import pytest
from provstore.plugins import resolve_storage_class

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
    """Run every test using ``storage`` once per available SQL backend.

    Conformance-kit classes (they set ``backend``) are left alone: the kit's fixtures build their storage.
    """
    if "sql_backend" in metafunc.fixturenames and not getattr(metafunc.cls, "backend", None):
        from provstore.testing.profiles import available_sql_backends

        backends = available_sql_backends()
        marks = {"core.psql_dos": pytest.mark.postgres}
        metafunc.parametrize(
            "sql_backend", [pytest.param(name, marks=marks.get(name, ()), id=name) for name in backends]
        )


@pytest.fixture
def sql_backend() -> str | None:
    """Return the SQL backend under test (set by parametrisation; None in conformance-kit classes)."""
    return None


@pytest.fixture
def storage(request: pytest.FixtureRequest, sql_backend: str | None, tmp_path):
    """Yield an initialised, open storage of ``sql_backend`` (profile from ``make_profile``); closed after."""
    if sql_backend is None:
        yield request.getfixturevalue("storage_factory")()
        return
    from provstore.testing.profiles import make_profile

    extra = request.getfixturevalue("pg_database") if sql_backend == "core.psql_dos" else {}
    profile = make_profile(sql_backend, tmp_path, **extra)
    resolve_storage_class(profile).initialise(profile)
    backend = resolve_storage_class(profile)(profile)
    yield backend
    backend.close()
