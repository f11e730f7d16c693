"""Fixtures of the CLI tests: a click runner, the test plugin, and the real console script in a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from provstore.cli import cli
from provstore.plugins import get_plugin_manager, reset_plugin_manager

FAKE_PLUGIN_DIR = Path(__file__).parents[1] / "core" / "fake_plugin"


@pytest.fixture
def fake_plugin(monkeypatch):
    """Register the test plugin (backends ``testfake.store`` and ``testfake.hidden``) with a fresh manager."""
    monkeypatch.syspath_prepend(str(FAKE_PLUGIN_DIR))
    reset_plugin_manager()
    import testfake_plugin.plugin

    get_plugin_manager().register(testfake_plugin.plugin, "testfake")
    yield get_plugin_manager()
    reset_plugin_manager()


@pytest.fixture
def run():
    """Return a function running the CLI in-process: ``run("profile", "list", input=...)`` -> click Result."""
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(cli, list(args), input=input, catch_exceptions=False)

    return invoke


@pytest.fixture
def provstore_script():
    """Return a function running the installed ``provstore`` console script in a subprocess."""
    sibling = Path(sys.executable).parent / "provstore"  # the script installed with the interpreter running the tests
    script = str(sibling) if sibling.exists() else shutil.which("provstore")
    assert script, "the provstore console script is not installed"

    def execute(*args: str, **env: str) -> subprocess.CompletedProcess:
        environment = {key: value for key, value in os.environ.items() if key != "PROVSTORE_TRACEBACK"}
        environment.update(env)
        return subprocess.run([script, *args], capture_output=True, text=True, env=environment, timeout=120)

    return execute
