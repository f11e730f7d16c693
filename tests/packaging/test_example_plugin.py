"""The example third-party plugin installs with pip, is listed, and passes the conformance kit after installing.

The virtual environment sees the packages of the interpreter running the tests (so the core under development
is used) but the example itself is a real, non-editable install; its tests run with plugin autoloading off, the
kit's fixtures loaded by the ``pytest_plugins`` line of its ``conftest.py``, as a third party's CI would.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from support.venvs import REPO, VirtualEnv

pytestmark = [pytest.mark.venv, pytest.mark.slow]

EXAMPLE = REPO / "docs" / "examples" / "provstore-sqlite-blobs"


@pytest.fixture(scope="module")
def example_env(tmp_path_factory: pytest.TempPathFactory) -> VirtualEnv:
    """A virtual environment with the example plugin pip-installed (not editable, no dependencies)."""
    env = VirtualEnv(tmp_path_factory.mktemp("example") / "env", see_running_packages=True)
    env.check("python", "-m", "pip", "install", "--quiet", "--no-deps", EXAMPLE, timeout=900)
    return env


def test_example_is_installed_not_imported_from_the_source(example_env: VirtualEnv) -> None:
    result = example_env.check("python", "-c", "import provstore_sqlite_blobs as m; print(m.__file__)")
    assert Path(result.stdout.strip()).is_relative_to(example_env.path)


def test_example_is_listed(example_env: VirtualEnv, tmp_path: Path) -> None:
    result = example_env.check(
        "python", "-m", "provstore", "plugin", "list", "--json", env={"PROVSTORE_CONFIG_DIR": str(tmp_path)}
    )
    entries = {entry["name"]: entry for entry in json.loads(result.stdout)}
    assert entries["acme.sqliteblobs"]["group"] == "repository"
    assert entries["acme.sqliteblobs"]["distribution"] == "provstore-sqlite-blobs"
    assert entries["acme.sqliteblobs"]["status"] == "ok"
    assert entries["acme.sqlitestore"]["group"] == "storage"
    assert entries["acme.sqlitestore"]["status"] == "ok"


def test_example_passes_the_conformance_kit(example_env: VirtualEnv, tmp_path: Path) -> None:
    result = example_env.run(
        "python",
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-q",
        "--rootdir",
        EXAMPLE,
        "--basetemp",
        tmp_path / "basetemp",
        EXAMPLE / "tests",
        env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PROVSTORE_CONFIG_DIR": str(tmp_path / "config")},
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    summary = re.search(r"(\d+) passed", result.stdout)
    assert summary, result.stdout[-2000:]
    # the kit's storage and repository tests ran, not only the example's own handful
    assert int(summary.group(1)) > 400
    assert "failed" not in result.stdout.splitlines()[-1]
