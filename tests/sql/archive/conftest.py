"""Fixtures of the archive tests: open storages (as in the transfer tests) and a ready archive file."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.dataset import populate
from support.stores import store_factory


@pytest.fixture
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Return ``open_store(backend, name, repository=None)`` (see :func:`support.stores.store_factory`)."""
    yield from store_factory(request, tmp_path)


@pytest.fixture
def source(open_store: Callable[..., Any]) -> Any:
    """Return a populated in-memory store."""
    storage = open_store("core.sqlite_temp", "archived")
    populate(storage)
    return storage


@pytest.fixture
def archive_file(source: Any, tmp_path: Path) -> Path:
    """Return the path of an archive of :func:`source`."""
    from provstore.archive import create_archive

    path = tmp_path / "store.zip"
    create_archive(source, path, batch_size=8)
    return path
