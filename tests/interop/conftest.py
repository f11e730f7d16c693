"""Fixtures of the interoperability tests: the real aiida-core 2.9.4 and the stores it writes.

aiida-core runs in its own interpreter: ``$PROVSTORE_AIIDA_PYTHON`` if set, else a virtual environment made
once with ``pip install aiida-core==2.9.4`` and kept in pytest's cache folder (``.pytest_cache``; without the
cache plugin, ``~/.cache/provstore-tests-aiida-2.9.4``), so later sessions reuse it. Each aiida-core process
gets a private ``AIIDA_PATH`` and no broker.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

AIIDA_VERSION = "2.9.4"
SIDE_SCRIPT = Path(__file__).with_name("aiida_side.py")


@pytest.fixture(scope="session")
def aiida_python(request: pytest.FixtureRequest) -> str:
    """Return the interpreter that has aiida-core 2.9.4 installed (made and cached on first use)."""
    given = os.environ.get("PROVSTORE_AIIDA_PYTHON")
    if given:
        return given
    cache = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider (as .ci/run runs)
    if cache is not None:
        folder = Path(cache.mkdir(f"aiida-core-{AIIDA_VERSION}"))
    else:
        cache_home = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
        folder = cache_home / f"provstore-tests-aiida-{AIIDA_VERSION}"
        folder.parent.mkdir(parents=True, exist_ok=True)
    python = folder / "bin" / "python"
    marker = folder / "installed"
    if not marker.is_file():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(folder)], check=True, timeout=300)
        result = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", f"aiida-core=={AIIDA_VERSION}"],
            capture_output=True,
            text=True,
            timeout=1200,
        )
        if result.returncode != 0:
            pytest.fail(f"cannot install aiida-core {AIIDA_VERSION}: {result.stderr.strip()[-500:]}", pytrace=False)
        marker.write_text(AIIDA_VERSION)
    return str(python)


class Aiida:
    """Runs ``aiida_side.py`` commands in aiida-core's interpreter, each with a private configuration folder."""

    def __init__(self, python: str, folder: Path) -> None:
        self.python = python
        self.folder = folder

    def run(self, *args: str) -> dict[str, Any]:
        """Run one command and return the snapshot it prints."""
        env = {**os.environ, "AIIDA_PATH": str(self.folder / "aiida-config"), "PYTHONWARNINGS": "ignore"}
        result = subprocess.run(
            [self.python, str(SIDE_SCRIPT), *args], capture_output=True, text=True, env=env, timeout=600
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return json.loads(result.stdout)


@pytest.fixture(scope="session")
def aiida_sqlite_store(aiida_python: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Write the graph with aiida-core to a ``core.sqlite_dos`` folder and export it to an archive, once.

    Returns ``{"folder", "archive", "snapshot", "archive_snapshot"}``; tests must not modify them.
    """
    folder = tmp_path_factory.mktemp("aiida_sqlite")
    aiida = Aiida(aiida_python, folder)
    store, archive = folder / "store", folder / "export.aiida"
    snapshot = aiida.run("write", "core.sqlite_dos", json.dumps({"filepath": str(store)}), str(archive))
    return {
        "folder": store,
        "archive": archive,
        "snapshot": snapshot,
        "archive_snapshot": aiida.run("snapshot-archive", str(archive)),
    }


def aiida_psql_config(pg_config: dict[str, Any], repository: Path) -> dict[str, Any]:
    """Return an aiida-core ``core.psql_dos`` storage configuration for a database of the test cluster."""
    return {
        "database_engine": "postgresql_psycopg",
        "database_hostname": pg_config["database_hostname"],
        "database_port": pg_config["database_port"],
        "database_username": pg_config["database_username"],
        "database_password": pg_config["database_password"] or "",
        "database_name": pg_config["database_name"],
        "repository_uri": repository.as_uri(),
    }


@pytest.fixture
def aiida_psql_store(aiida_python: str, pg_database: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """Write the graph with aiida-core to a ``core.psql_dos`` store on a fresh database of the test cluster.

    Returns ``{"config", "repository", "snapshot"}`` (``config`` is the aiida-core storage configuration).
    """
    config = aiida_psql_config(pg_database, tmp_path / "aiida_repository")
    snapshot = Aiida(aiida_python, tmp_path).run("write", "core.psql_dos", json.dumps(config))
    return {"config": config, "repository": tmp_path / "aiida_repository", "snapshot": snapshot}


@pytest.fixture
def aiida(aiida_python: str, tmp_path: Path) -> Aiida:
    """Return a runner of aiida-core commands with a configuration folder of this test."""
    return Aiida(aiida_python, tmp_path)


def tree_digest(folder: Path) -> dict[str, str]:
    """Return ``{relative path: sha256}`` of every file under ``folder``: what a read-only backend must not change."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }
