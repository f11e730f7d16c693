"""The behaviour contract of a repository backend (content-addressed blob store), as pytest classes.

One class per area, each usable alone, and :class:`RepositoryBackendTests` combining them::

    pytest_plugins = ["provstore.testing.fixtures"]     # in the suite's top-level conftest.py

    from provstore.testing import RepositoryBackendTests

    class TestMyBlobs(RepositoryBackendTests):
        backend = "acme.blobs"

The capabilities are the class attributes of :class:`~provstore.testing.repository.base.RepositoryTests`.
"""

from __future__ import annotations

from provstore.testing.repository.base import MiB, PatternStream, RepositoryTests
from provstore.testing.repository.batch import BatchTests
from provstore.testing.repository.deleting import DeletionTests
from provstore.testing.repository.identity import IdentityTests
from provstore.testing.repository.keys import KeyValidationTests
from provstore.testing.repository.maintenance import MaintenanceTests
from provstore.testing.repository.reading import ReadingTests
from provstore.testing.repository.streaming import StreamingTests
from provstore.testing.repository.writing import WritingTests

__all__ = [
    "AREAS",
    "BatchTests",
    "DeletionTests",
    "IdentityTests",
    "KeyValidationTests",
    "MaintenanceTests",
    "MiB",
    "PatternStream",
    "ReadingTests",
    "RepositoryBackendTests",
    "RepositoryTests",
    "StreamingTests",
    "WritingTests",
]

AREAS: tuple[type[RepositoryTests], ...] = (
    IdentityTests,
    WritingTests,
    BatchTests,
    ReadingTests,
    KeyValidationTests,
    DeletionTests,
    StreamingTests,
    MaintenanceTests,
)
"""Every area class of the repository contract, in the order :class:`RepositoryBackendTests` runs them."""


class RepositoryBackendTests(*AREAS):  # type: ignore[misc]
    """The whole behaviour contract of a repository backend: every area class of :data:`AREAS` in one class."""
