"""Fixtures of the query tests: the conformance kit's data set inserted into the ``storage`` under test."""

from __future__ import annotations

from typing import Any

import pytest
from provstore.testing.dataset import Dataset, populate


@pytest.fixture
def data(storage: Any) -> Dataset:
    """Insert the kit's data set (``provstore.testing.dataset``) into ``storage`` and return where it is."""
    return populate(storage)
