"""Open storages of any built-in SQL backend for the transfer and archive tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from provstore.config import Profile
from provstore.plugins import resolve_storage_class
from provstore.testing.profiles import make_profile


def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Yield ``open_store(backend, name, repository=None)``: an initialised, open storage, closed afterwards.

    ``repository`` optionally replaces the profile's repository section, e.g. a uuid4 sandbox.
    Tests marked ``postgres`` get a database on the session's PostgreSQL server for their ``core.psql_dos``
    store (requested here, during setup, so that it is dropped only after the storages are closed).
    """
    opened = []
    pg_config = request.getfixturevalue("pg_database") if request.node.get_closest_marker("postgres") else None

    def factory(backend: str, name: str, repository: dict[str, Any] | None = None) -> Any:
        extra = {}
        if backend == "core.psql_dos":
            assert pg_config is not None, "mark the test with @pytest.mark.postgres"
            extra = pg_config
        attributes = make_profile(backend, tmp_path / name, **extra).dictionary
        if repository is not None:
            attributes["repository"] = repository
        profile = Profile(name, attributes)
        resolve_storage_class(profile).initialise(profile)
        storage = resolve_storage_class(profile)(profile)
        opened.append(storage)
        return storage

    yield factory
    for storage in opened:
        storage.close()
