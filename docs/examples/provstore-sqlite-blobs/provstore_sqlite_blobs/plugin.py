"""Hook implementations of provstore-sqlite-blobs; cheap to import (the backend class is named, not imported)."""

from __future__ import annotations

from provstore.hookspecs import BackendSpec, hookimpl


@hookimpl
def provstore_repository_backends() -> list[BackendSpec]:
    """Register ``acme.sqliteblobs`` under the author's own ``acme.`` prefix (``core.`` is reserved)."""
    return [
        BackendSpec(
            name="acme.sqliteblobs",
            target="provstore_sqlite_blobs.backend:SqliteBlobRepositoryBackend",
            description="Every object in one SQLite file, content-addressed by SHA-256 and stored in chunks.",
        )
    ]
