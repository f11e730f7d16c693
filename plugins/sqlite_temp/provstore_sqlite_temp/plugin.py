"""Hook implementations of the sqlite_temp plugin; cheap to import (the backend class is named, not imported)."""

from __future__ import annotations

from provstore.hookspecs import BackendSpec, hookimpl


@hookimpl
def provstore_storage_backends() -> list[BackendSpec]:
    """Register ``core.sqlite_temp``."""
    return [
        BackendSpec(
            name="core.sqlite_temp",
            target="provstore_sqlite_temp.backend:SqliteTempBackend",
            description="Fresh in-memory SQLite database plus a sandbox repository on every open (tests, demos).",
            requires={"sqlalchemy": "sqlalchemy", "provstore_sandbox": "provstore-sandbox"},
        )
    ]
