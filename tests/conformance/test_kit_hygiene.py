"""Installing provstore changes no other project's pytest session: the kit's fixtures load only when asked for."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest
from provstore.testing import fixtures


def pytest_fixtures_listing(folder: Path) -> str:
    """Return what ``pytest --fixtures`` lists for a project in ``folder`` (plugin autoloading on, as by default)."""
    (folder / "test_nothing.py").write_text("def test_nothing():\n    pass\n", encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--fixtures", "-p", "no:cacheprovider", "-c", os.devnull, "--rootdir", folder],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_no_provstore_distribution_declares_a_pytest_plugin() -> None:
    owners = {
        entry_point.dist.name
        for entry_point in importlib.metadata.entry_points(group="pytest11")
        if entry_point.dist is not None
    }
    assert not {name for name in owners if name.startswith("provstore")}, owners


def test_a_project_without_the_line_sees_no_provstore_fixture(tmp_path: Path) -> None:
    listing = pytest_fixtures_listing(tmp_path)
    assert "provstore" not in listing


def test_the_line_brings_the_kit_fixtures(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["provstore.testing.fixtures"]\n', encoding="utf-8")
    listing = pytest_fixtures_listing(tmp_path)
    for name in ("provstore_storage", "provstore_repository", "provstore_dataset_storage"):
        assert name in listing


@pytest.mark.parametrize(
    "name", [name for name, value in vars(fixtures).items() if hasattr(value, "_fixture_function_marker")]
)
def test_every_kit_fixture_has_the_prefix(name: str) -> None:
    assert name.startswith("provstore_")
