"""Fixtures of the SQL storage tests."""

from __future__ import annotations

import pytest
from provstore.storage import EntityTypes
from support.rows import user_row


@pytest.fixture
def user_id(storage) -> int:
    """Return the pk of a user inserted into the storage under test."""
    return storage.bulk_insert(EntityTypes.USER, [user_row()])[0]
