"""The ``provstore`` console script, run as a user would: ``storage transfer`` and the ``archive`` commands."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from provstore import open_storage
from provstore.config import Config, Profile
from provstore.plugins import resolve_storage_class
from support.dataset import populate, snapshot

pytestmark = pytest.mark.slow  # each command is a fresh interpreter


def provstore(*args: str) -> subprocess.CompletedProcess:
    """Run the installed console script (inheriting the test's PROVSTORE_CONFIG_DIR)."""
    script = shutil.which("provstore") or str(Path(sys.executable).parent / "provstore")
    return subprocess.run([script, *args], capture_output=True, text=True, timeout=300)


@pytest.fixture
def profiles(tmp_path):
    """Save sqlite_dos profiles a (populated), b (not initialised), c and d; return a function snapshotting one."""
    with Config.edit() as config:
        for name in "abcd":
            profile = Profile(
                name, {"storage": {"backend": "core.sqlite_dos", "config": {"filepath": str(tmp_path / name)}}}
            )
            if name != "b":
                resolve_storage_class(profile).initialise(profile)
            config.add_profile(profile)
    with open_storage("a") as storage:
        populate(storage)

    def snap(name: str):
        with open_storage(name) as storage:
            return snapshot(storage)

    return snap


def test_transfer_then_refuse_unrelated_target(profiles):
    result = provstore("storage", "transfer", "--from", "a", "--to", "b", "--batch-size", "7")
    assert result.returncode == 0, result.stderr
    assert "Transferred a -> b (fresh):" in result.stdout
    assert "verification: passed" in result.stdout
    assert result.stderr == "Initialised the storage of profile 'b'.\n"  # and no progress bar: not a terminal
    assert profiles("b") == profiles("a")

    again = provstore("storage", "transfer", "--from", "a", "--to", "b")
    assert again.returncode == 0 and "(resumed)" in again.stdout

    with open_storage("c") as storage:
        populate(storage, tag="c", nodes=3)
    refused = provstore("storage", "transfer", "--from", "a", "--to", "c")
    assert refused.returncode == 1
    assert refused.stderr.startswith("Error: profile 'c' already holds data of another origin")
    assert refused.stderr.count("\n") == 1
    merged = provstore("storage", "transfer", "--from", "a", "--to", "c", "--merge")
    assert merged.returncode == 0 and "(merged)" in merged.stdout


def test_archive_create_inspect_import(profiles, tmp_path):
    path = tmp_path / "a.zip"
    created = provstore("-p", "a", "archive", "create", str(path))
    assert created.returncode == 0, created.stderr
    assert created.stdout == f"Created archive {path}: 30 nodes, 11 objects.\n"

    inspected = provstore("archive", "inspect", str(path), "--json")
    assert inspected.returncode == 0
    assert json.loads(inspected.stdout)["counts"]["nodes"] == 30

    imported = provstore("-p", "d", "archive", "import", str(path))
    assert imported.returncode == 0, imported.stderr
    assert profiles("d") == profiles("a")

    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(path.read_bytes()[:-100])
    refused = provstore("-p", "c", "archive", "import", str(truncated))
    assert refused.returncode == 1
    assert refused.stderr == "Error: archive truncated.zip is damaged or truncated: File is not a zip file\n"
    assert profiles("c")["nodes"] == {}

    exists = provstore("-p", "a", "archive", "create", str(path))
    assert (exists.returncode, exists.stderr) == (1, f"Error: {path} exists already; choose another file name\n")
