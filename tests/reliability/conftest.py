"""Fixtures of the reliability suite: durable profiles on every persistent SQL backend, and the figures summary."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from provstore.config import Profile
from provstore.plugins import resolve_storage_class
from provstore.testing.profiles import make_profile

from reliability.figures import FIGURES

DURABLE_BACKENDS = [
    pytest.param("core.sqlite_dos", id="sqlite_dos"),
    pytest.param("core.psql_dos", id="psql_dos", marks=pytest.mark.postgres),
]
"""The backends whose data outlives a process: crash, concurrency and integrity tests run on each."""


@pytest.fixture(params=DURABLE_BACKENDS)
def durable_backend(request: pytest.FixtureRequest) -> str:
    """Return the name of the durable backend under test."""
    return request.param


@pytest.fixture
def durable_profile(request: pytest.FixtureRequest, durable_backend: str, tmp_path: Path) -> Profile:
    """Return an initialised profile of ``durable_backend`` (psql_dos on a fresh database of ``pg_cluster``)."""
    extra: dict[str, Any] = {"busy_timeout": 60} if durable_backend == "core.sqlite_dos" else {}
    if durable_backend == "core.psql_dos":
        extra = request.getfixturevalue("pg_database")
    profile = make_profile(durable_backend, tmp_path, **extra)
    resolve_storage_class(profile).initialise(profile)
    return profile


@pytest.fixture
def open_storage(durable_profile: Profile) -> Iterator[Any]:
    """Yield a storage opened on ``durable_profile``; closed afterwards (if the test did not close it)."""
    storage = resolve_storage_class(durable_profile)(durable_profile)
    yield storage
    storage.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the figures of the reliability tests that ran (for docs/reliability.md)."""
    if FIGURES:
        terminalreporter.section("reliability figures")
        for name, count in sorted(FIGURES.items()):
            terminalreporter.write_line(f"{name}: {count}")
