"""Fixtures of the query tests: the shared data set inserted into the ``storage`` under test."""

from __future__ import annotations

from typing import Any

import pytest
from query_dataset import Dataset, populate


@pytest.fixture
def data(storage: Any) -> Dataset:
    """Insert the query data set into ``storage`` (one storage per SQL backend) and return its pks."""
    return populate(storage)
