"""Hook implementations of provstore-sqlite-blobs; cheap to import (the backend classes are named, not imported)."""

from __future__ import annotations

from provstore.hookspecs import BackendSpec, hookimpl


@hookimpl
def provstore_storage_backends() -> list[BackendSpec]:
    """Register ``acme.sqlitestore`` under the author's own ``acme.`` prefix (``core.`` is reserved)."""
    return [
        BackendSpec(
            name="acme.sqlitestore",
            target="provstore_sqlite_blobs.storage:SqliteStore",
            description="The provenance graph in one SQLite file, its files in an acme.sqliteblobs file.",
            requires={"sqlalchemy": "sqlalchemy", "provstore_sql": "provstore-sql"},
        )
    ]


@hookimpl
def provstore_repository_backends() -> list[BackendSpec]:
    """Register ``acme.sqliteblobs``."""
    return [
        BackendSpec(
            name="acme.sqliteblobs",
            target="provstore_sqlite_blobs.backend:SqliteBlobRepositoryBackend",
            description="Every object in one SQLite file, content-addressed by SHA-256 and stored in chunks.",
        )
    ]
