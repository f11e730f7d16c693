"""The behaviour contract of a storage backend, as pytest classes written against the public API only.

One class per area, each usable alone (subclass it and set ``backend``), and :class:`StorageBackendTests`
combining them all::

    pytest_plugins = ["provstore.testing.fixtures"]     # in the suite's top-level conftest.py

    from provstore.testing import StorageBackendTests

    class TestMyStore(StorageBackendTests):
        backend = "acme.mystore"
        persistent = False                              # capabilities your backend does not have

The capabilities are the ``bool`` attributes of :class:`~provstore.testing.storage.base.StorageTests`.
"""

from __future__ import annotations

from provstore.testing.storage.attributes import AttributeTests, JsonValueTests
from provstore.testing.storage.base import StorageTests
from provstore.testing.storage.bulk import BulkTests
from provstore.testing.storage.comments_logs import CommentLogTests
from provstore.testing.storage.concurrency import ConcurrencyTests
from provstore.testing.storage.deletion import DeletionTests
from provstore.testing.storage.entities import EntityTests
from provstore.testing.storage.files import FileTests
from provstore.testing.storage.groups import GroupTests
from provstore.testing.storage.info import InfoMaintenanceTests
from provstore.testing.storage.lifecycle import ConfigurationTests, LifecycleTests
from provstore.testing.storage.links import LinkTests
from provstore.testing.storage.query_contract import QueryContractTests
from provstore.testing.storage.query_filters import QueryFilterTests, RandomFilterTests
from provstore.testing.storage.query_relationships import QueryRelationshipTests
from provstore.testing.storage.query_results import QueryResultTests
from provstore.testing.storage.query_traversal import QueryTraversalTests, TraversalScaleTests
from provstore.testing.storage.settings import GlobalVariableTests
from provstore.testing.storage.transactions import TransactionTests

__all__ = [
    "AREAS",
    "AttributeTests",
    "BulkTests",
    "CommentLogTests",
    "ConcurrencyTests",
    "ConfigurationTests",
    "DeletionTests",
    "EntityTests",
    "FileTests",
    "GlobalVariableTests",
    "GroupTests",
    "InfoMaintenanceTests",
    "JsonValueTests",
    "LifecycleTests",
    "LinkTests",
    "QueryContractTests",
    "QueryFilterTests",
    "QueryRelationshipTests",
    "QueryResultTests",
    "QueryTraversalTests",
    "RandomFilterTests",
    "StorageBackendTests",
    "StorageTests",
    "TransactionTests",
    "TraversalScaleTests",
]

AREAS: tuple[type[StorageTests], ...] = (
    ConfigurationTests,
    LifecycleTests,
    EntityTests,
    AttributeTests,
    JsonValueTests,
    LinkTests,
    GroupTests,
    CommentLogTests,
    FileTests,
    TransactionTests,
    BulkTests,
    DeletionTests,
    GlobalVariableTests,
    InfoMaintenanceTests,
    ConcurrencyTests,
    QueryContractTests,
    QueryFilterTests,
    RandomFilterTests,
    QueryRelationshipTests,
    QueryResultTests,
    QueryTraversalTests,
    TraversalScaleTests,
)
"""Every area class of the storage contract, in the order :class:`StorageBackendTests` runs them."""


class StorageBackendTests(*AREAS):  # type: ignore[misc]
    """The whole behaviour contract of a storage backend: every area class of :data:`AREAS` in one class.

    Set ``backend`` and the capabilities your backend declares (``persistent``, ``read_only``,
    ``supports_concurrent_processes``, ``supports_concurrent_threads``, ``has_repository``).
    """
