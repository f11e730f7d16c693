"""Hook implementations of the psql_dos plugin; cheap to import (psycopg2 and sqlalchemy are not imported here)."""

from __future__ import annotations

from provstore.hookspecs import BackendSpec, hookimpl


@hookimpl
def provstore_storage_backends() -> list[BackendSpec]:
    """Register ``core.psql_dos``."""
    return [
        BackendSpec(
            name="core.psql_dos",
            target="provstore_psql_dos.backend:PsqlDosBackend",
            description="PostgreSQL database (psycopg2) plus a disk-objectstore repository; for many processes.",
            requires={"psycopg2": "psycopg2-binary"},
        )
    ]
