"""Fixtures of the core tests: the test plugin ``testfake_plugin`` registered with the process-wide manager."""

from __future__ import annotations

from pathlib import Path

import pytest
from provstore.plugins import get_plugin_manager, reset_plugin_manager

FAKE_PLUGIN_DIR = Path(__file__).parent / "fake_plugin"


@pytest.fixture
def fake_plugin(monkeypatch):
    """Register the test plugin (backend ``testfake.store``) with a fresh process-wide plugin manager."""
    monkeypatch.syspath_prepend(str(FAKE_PLUGIN_DIR))
    reset_plugin_manager()
    import testfake_plugin.plugin

    get_plugin_manager().register(testfake_plugin.plugin, "testfake")
    yield get_plugin_manager()
    reset_plugin_manager()
