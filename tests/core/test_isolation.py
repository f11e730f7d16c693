"""A test run sees only this checkout's provstore plugins: an installed plugin of another distribution is blocked."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from provstore.plugins import DISABLE_PLUGINS_ENV, PluginManager
from support.isolation import block_foreign_plugins, checkout_distributions, foreign_plugins


@pytest.fixture
def foreign_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Install (on ``sys.path``) a distribution ``acme-foreign`` whose plugin module raises when imported."""
    info = tmp_path / "acme_foreign-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-foreign\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[provstore]\nacme_foreign = acme_foreign_plugin\n")
    (tmp_path / "acme_foreign_plugin.py").write_text("raise RuntimeError('a blocked plugin was imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(DISABLE_PLUGINS_ENV, os.environ.get(DISABLE_PLUGINS_ENV, ""))  # restored after the test
    return "acme-foreign"


def test_the_checkout_ships_the_core_and_its_plugins():
    assert {"provstore", "provstore-sql", "provstore-sqlite-dos", "provstore-psql-dos"} <= checkout_distributions()


def test_a_foreign_plugin_is_blocked_and_never_imported(foreign_plugin):
    unblocked = PluginManager(disabled="")
    assert any(row.distribution == foreign_plugin for row in unblocked.list_backends())  # it is installed
    sys.modules.pop("acme_foreign_plugin", None)

    assert foreign_plugin in block_foreign_plugins()
    assert foreign_plugin in os.environ[DISABLE_PLUGINS_ENV].split(",")
    rows = PluginManager().list_backends()
    assert not any(row.distribution == foreign_plugin for row in rows)
    assert "acme_foreign_plugin" not in sys.modules
    assert {"core.sqlite_dos", "core.sqlite_temp", "core.psql_dos"} <= {row.name for row in rows}  # ours stay


def test_this_run_blocks_every_foreign_plugin_installed_when_it_started():
    blocked = set(os.environ.get(DISABLE_PLUGINS_ENV, "").split(","))
    assert set(foreign_plugins()) <= blocked
