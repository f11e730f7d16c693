"""Hook implementations of the sqlite_dos plugin; cheap to import (the backend class is named, not imported)."""

from __future__ import annotations

from provstore.hookspecs import BackendSpec, hookimpl


@hookimpl
def provstore_storage_backends() -> list[BackendSpec]:
    """Register ``core.sqlite_dos`` and ``core.sqlite_archive`` (the database of an archive file)."""
    return [
        BackendSpec(
            name="core.sqlite_dos",
            target="provstore_sqlite_dos.backend:SqliteDosStorage",
            description="SQLite file (WAL) plus a disk-objectstore repository in one folder: the embedded default.",
            requires={
                "sqlalchemy": "sqlalchemy",
                "provstore_diskobjectstore": "provstore-diskobjectstore",
                "disk_objectstore": "disk-objectstore",
            },
        ),
        BackendSpec(
            name="core.sqlite_archive",
            target="provstore_sqlite_dos.archive:SqliteArchiveStorage",
            description="The SQLite database inside a provstore archive file (used by `provstore archive`).",
            requires={"sqlalchemy": "sqlalchemy"},
        ),
    ]
