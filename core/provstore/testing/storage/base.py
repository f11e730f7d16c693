"""What every storage area class shares: the backend's declared capabilities and small helpers on the public API."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import pytest

from provstore.storage import StorageBackend
from provstore.testing.capabilities import unless

__all__ = [
    "CALC",
    "DATA",
    "WORK",
    "StorageTests",
    "each",
    "link_pairs",
    "node_row",
    "stored_field",
    "user_row",
    "writes",
]

DATA = "data.core.int.Int."
CALC = "process.calculation.calcjob.CalcJobNode."
WORK = "process.workflow.workchain.WorkChainNode."

T = TypeVar("T", bound=type)


class StorageTests:
    """Base of the storage area classes: set ``backend`` and the capabilities your backend declares.

    Every capability is a ``bool`` class attribute; the tests needing one that is declared otherwise are
    reported as skipped with the reason, so a backend is never judged by its name.
    """

    backend: ClassVar[str]
    """Name of the storage backend under test, e.g. ``"acme.mystore"``."""

    persistent: ClassVar[bool] = True
    """Data survives closing the storage, and a profile exists before it is initialised (False: in-memory)."""

    read_only: ClassVar[bool] = False
    """The backend refuses writes: only the read tests run, on ``provstore_dataset_storage``."""

    supports_concurrent_processes: ClassVar[bool] = True
    """Several processes can open the same profile at once and see each other's committed writes."""

    supports_concurrent_threads: ClassVar[bool] = True
    """Threads sharing one open storage each get their own transaction (False: one connection for all)."""

    has_repository: ClassVar[bool] = True
    """The storage holds files: :meth:`StorageBackend.get_repository` returns a working repository."""

    @pytest.fixture(autouse=True)
    def _provstore_isolation(self, provstore_config_dir: Path) -> None:
        """Give every conformance test its own configuration folder."""


def each(mark: pytest.MarkDecorator) -> Callable[[T], T]:
    """Return a class decorator putting ``mark`` on every test function of the class.

    The mark goes on each function, not on the class: a class mark would reach every other area class too once
    they are combined into one class by multiple inheritance (pytest collects class marks along the MRO).
    """

    def decorate(cls: T) -> T:
        for name, value in list(vars(cls).items()):
            if name.startswith("test") and callable(value):
                setattr(cls, name, mark(value))
        return cls

    return decorate


writes = each(unless("read_only"))
"""Class decorator: every test of the class writes, so it is skipped for backends declaring ``read_only``."""


def user_row(email: str) -> dict[str, Any]:
    """Return a complete user row for :meth:`StorageBackend.bulk_insert` (every field but ``id``)."""
    return {"email": email, "first_name": "Ada", "last_name": "Lovelace", "institution": "Analytical Engines"}


def node_row(user_id: int, node_uuid: str | None = None, node_type: str = DATA, **fields: Any) -> dict[str, Any]:
    """Return a minimal node row (to be inserted with ``allow_defaults=True``)."""
    return {"uuid": node_uuid or str(uuid.uuid4()), "node_type": node_type, "user_id": user_id, "label": "n", **fields}


def stored_field(storage: StorageBackend, entity: str, pk: int, field: str) -> Any:
    """Return a field of a stored row as the storage reads it back (a query, so no entity held in memory helps)."""
    return storage.query().append(entity, filters={"id": pk}, project=field).one(flat=True)


def link_pairs(storage: StorageBackend, **link_filters: Any) -> list[tuple[int, int, str, str]]:
    """Return every link as ``(input pk, output pk, type, label)``, sorted, read through the query API."""
    query = storage.query().append("node", tag="source", project="id")
    query.append(
        "node",
        tag="target",
        with_incoming="source",
        project="id",
        link_filters=link_filters or None,
        link_project=["type", "label"],
    )
    return sorted(tuple(row) for row in query.all())


def node_factory(storage: StorageBackend) -> Callable[[str], Any]:
    """Return ``make(node_type)`` storing a new node of that type with the default user."""
    return lambda node_type: storage.nodes.create(node_type=node_type).store()
