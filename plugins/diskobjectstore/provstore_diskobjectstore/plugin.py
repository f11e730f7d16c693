"""Hook implementations of the disk-objectstore plugin; cheap to import (disk_objectstore is not imported here)."""

from __future__ import annotations

from provstore.hookspecs import BackendSpec, hookimpl


@hookimpl
def provstore_repository_backends() -> list[BackendSpec]:
    """Register ``core.diskobjectstore``."""
    return [
        BackendSpec(
            name="core.diskobjectstore",
            target="provstore_diskobjectstore.backend:DiskObjectStoreRepositoryBackend",
            description="disk-objectstore container: content-addressed (sha256) loose files and packs.",
            requires={"disk_objectstore": "disk-objectstore"},
        )
    ]
