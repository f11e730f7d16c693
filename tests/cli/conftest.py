"""Fixtures of the end-to-end CLI tests: the real console script in a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


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
