"""Conformance kit for backend authors: reusable pytest classes that check a backend against the contract.

Usage in a plugin's test suite (the fixtures come from the ``provstore`` pytest plugin, loaded automatically)::

    from provstore.testing import StorageBackendTests

    class TestMyBackend(StorageBackendTests):
        backend = "acme.mystore"

Capabilities are class attributes (``persistent``, ``supports_concurrent_processes``, ...): a backend that
does not have one sets it to False and the tests needing it are skipped, never chosen by backend name.
"""

import pytest

# the classes hold plain asserts: rewrite them for helpful failure messages before they are imported
pytest.register_assert_rewrite("provstore.testing.storage", "provstore.testing.repository")

__all__ = ["RepositoryBackendTests", "StorageBackendTests", "requires"]

# imported on first use, so loading the pytest plugin (which imports this package) stays cheap
_EXPORTS = {
    "RepositoryBackendTests": "provstore.testing.repository",
    "StorageBackendTests": "provstore.testing.storage",
    "requires": "provstore.testing.storage",
}


def __getattr__(name: str) -> object:
    """Import the conformance classes lazily."""
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name]), name)
