"""Helpers for the SQL storage tests: row factories shared by the test modules."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from provstore.storage import EntityTypes


def user_row(email: str = "ada@example.org") -> dict[str, Any]:
    """Return a complete user row."""
    return {"email": email, "first_name": "Ada", "last_name": "Lovelace", "institution": "Engines"}


def node_row(user_id: int, index: int = 0, **fields: Any) -> dict[str, Any]:
    """Return a node row to insert with ``allow_defaults=True``."""
    return {
        "uuid": str(uuid.uuid4()),
        "node_type": "data.core.Int.",
        "label": f"n{index}",
        "user_id": user_id,
        **fields,
    }


@pytest.fixture
def user_id(storage) -> int:
    """Return the pk of a user inserted into the storage under test."""
    return storage.bulk_insert(EntityTypes.USER, [user_row()])[0]
