"""Row factories for the storage tests (complete or minimal rows for ``bulk_insert``)."""

from __future__ import annotations

import uuid
from typing import Any


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
