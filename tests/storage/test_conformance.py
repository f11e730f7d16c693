"""The conformance kit of provstore run against the two embedded SQL backends."""

from __future__ import annotations

from provstore.testing import StorageBackendTests


class TestSqliteTempConformance(StorageBackendTests):
    backend = "core.sqlite_temp"
    persistent = False
    supports_concurrent_processes = False


class TestSqliteDosConformance(StorageBackendTests):
    backend = "core.sqlite_dos"
