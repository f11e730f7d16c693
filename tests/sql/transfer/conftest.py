"""Fixtures of the transfer tests: open storages of any built-in SQL backend."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.stores import store_factory


@pytest.fixture
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Return ``open_store(backend, name, repository=None)`` (see :func:`support.stores.store_factory`)."""
    yield from store_factory(request, tmp_path)
