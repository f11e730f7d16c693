"""Shared fixtures: every test runs with its own configuration directory, never the user's."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def isolated_config_dir(tmp_path_factory, monkeypatch):
    """Point PROVSTORE_CONFIG_DIR at a fresh folder so tests never read or write ~/.provstore."""
    path = tmp_path_factory.mktemp("provstore_config")
    monkeypatch.setenv("PROVSTORE_CONFIG_DIR", str(path))
    return path
