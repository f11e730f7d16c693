"""Conformance kit for backend authors: the behaviour contract of storage and repository backends as pytest classes.

Usage in a plugin's test suite; the fixtures are loaded only where the suite asks for them::

    # conftest.py (top level of the test suite)
    pytest_plugins = ["provstore.testing.fixtures"]

    # test_mystore.py
    from provstore.testing import StorageBackendTests

    class TestMyBackend(StorageBackendTests):
        backend = "acme.mystore"
        persistent = False          # a capability the backend does not have

Capabilities are ``bool`` class attributes (``persistent``, ``read_only``, ``supports_concurrent_processes``,
...): the tests needing one that the backend does not declare are skipped, never chosen by backend name.
"""

import pytest

# the classes hold plain asserts: rewrite them for helpful failure messages before they are imported
pytest.register_assert_rewrite("provstore.testing.storage", "provstore.testing.repository")

__all__ = ["RepositoryBackendTests", "StorageBackendTests", "requires", "unless"]

# imported on first use, so importing this package stays cheap
_EXPORTS = {
    "RepositoryBackendTests": "provstore.testing.repository",
    "StorageBackendTests": "provstore.testing.storage",
    "requires": "provstore.testing.capabilities",
    "unless": "provstore.testing.capabilities",
}


def __getattr__(name: str) -> object:
    """Import the conformance classes lazily."""
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name]), name)
