"""provstore's exceptions are also the built-in types the reference documentation (shared/seeds) names."""

from __future__ import annotations

import pytest
from provstore import exceptions


@pytest.mark.parametrize(
    ("provstore_type", "documented_type", "where"),
    [
        (exceptions.TransactionError, AssertionError, "delete_nodes_and_connections outside a transaction"),
        (exceptions.NotExistent, KeyError, "get_global_variable of a missing key"),
        (exceptions.ValidationError, ValueError, "invalid values given by the caller"),
    ],
)
def test_provstore_exception_is_the_documented_builtin(provstore_type, documented_type, where):
    assert issubclass(provstore_type, documented_type), where
    assert issubclass(provstore_type, exceptions.ProvstoreError)
    with pytest.raises(documented_type):
        raise provstore_type("message")


def test_every_exception_is_a_provstore_error():
    """A caller can catch everything provstore raises on purpose with one class."""
    public = [getattr(exceptions, name) for name in dir(exceptions) if not name.startswith("_")]
    classes = [item for item in public if isinstance(item, type) and issubclass(item, BaseException)]
    assert len(classes) > 10
    assert all(issubclass(item, exceptions.ProvstoreError) for item in classes)
