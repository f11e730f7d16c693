"""Helpers shared by the PostgreSQL tests (a module of its own so test modules can import it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from provstore.config import Profile
from provstore.exceptions import LockedProfileError
from provstore_psql_dos.testing import DSN_ENV_VAR, PostgresCluster, PostgresClusterError

PASSWORD = "s3cret-\"pass' word%40"
"""Password of the password cluster's superuser: quotes, spaces and a URL escape, so masking is tested hard."""


def setup_args(cluster: PostgresCluster, role: str, database: str, folder: Path, name: str = "pg") -> list[str]:
    """Return the arguments of ``profile setup core.psql_dos`` for ``role`` on ``database`` of ``cluster``, with
    the files under ``folder`` and no password (the tests add the options they are about)."""
    return [
        "profile", "setup", "core.psql_dos", "--profile-name", name,
        "--database-hostname", cluster.host, "--database-port", str(cluster.port),
        "--database-username", role, "--database-name", database,
        "--repository-uri", str(folder / "repository"),
    ]  # fmt: skip


def maintain_once_released(storage: Any, seconds: float) -> None:
    """Run full maintenance on ``storage`` as soon as the server has released a gone process's profile lock.

    A session's advisory locks go when the server process serving it ends, a moment after the client's
    process exits or is killed (the disconnect is asynchronous): retry for up to ``seconds``.
    """
    deadline = time.monotonic() + seconds
    while True:
        try:
            storage.maintain(full=True)
            return
        except LockedProfileError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def start_worker(profile: Profile, code: str, *args: str) -> subprocess.Popen[str]:
    """Start ``python -c code`` with the profile's dictionary as JSON on its first stdin line; ``args`` in argv."""
    process = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None
    process.stdin.write(json.dumps({"name": profile.name, **profile.dictionary}) + "\n")
    process.stdin.flush()
    return process


WORKER_PRELUDE = """
import json, sys
import os

import pytest
from provstore.config import Profile
from provstore_psql_dos.testing import DSN_ENV_VAR, PostgresCluster, PostgresClusterError
from provstore.plugins import resolve_storage_class
from provstore.storage import EntityTypes
data = json.loads(sys.stdin.readline())
profile = Profile(data.pop("name"), data)
"""
"""Start of every worker script: reads the profile from stdin into ``profile``."""


def start_cluster(**options) -> PostgresCluster:
    """Start a throwaway cluster of our own; without server binaries skip if a DSN is given, else fail."""
    try:
        return PostgresCluster(**options).start()
    except PostgresClusterError as exc:
        if os.environ.get(DSN_ENV_VAR):
            pytest.skip(f"needs the server binaries to start a cluster of its own: {exc}")
        pytest.fail(str(exc), pytrace=False)
