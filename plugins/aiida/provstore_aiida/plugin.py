"""Hook implementations of provstore-aiida; cheap to import (the backend classes are named, not imported)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from provstore.hookspecs import BackendSpec, hookimpl

if TYPE_CHECKING:
    import click

_REQUIRES = {
    "sqlalchemy": "sqlalchemy",
    "provstore_sql": "provstore-sql",
    "provstore_diskobjectstore": "provstore-diskobjectstore",
    "disk_objectstore": "disk-objectstore",
}


@hookimpl
def provstore_storage_backends() -> list[BackendSpec]:
    """Register the read-only backends over aiida-core stores and archives."""
    return [
        BackendSpec(
            name="core.aiida_sqlite_dos",
            target="provstore_aiida.backends:AiidaSqliteDosStorage",
            description="An aiida-core 2.x core.sqlite_dos folder, read in place (read-only).",
            requires=_REQUIRES,
        ),
        BackendSpec(
            name="core.aiida_psql_dos",
            target="provstore_aiida.backends:AiidaPsqlDosStorage",
            description="An aiida-core 2.x core.psql_dos database and its container, read in place (read-only).",
            requires={**_REQUIRES, "psycopg2": "psycopg2-binary"},
        ),
        BackendSpec(
            name="core.aiida_archive",
            target="provstore_aiida.archive:AiidaArchiveStorage",
            description="An aiida-core .aiida archive file, read without importing it (read-only).",
            requires={"sqlalchemy": "sqlalchemy", "provstore_sql": "provstore-sql"},
        ),
    ]


@hookimpl
def provstore_register_commands(cli: click.Group) -> None:
    """Add ``provstore storage adopt``."""
    import click

    from provstore_aiida.cli import adopt

    storage = cli.commands.get("storage")
    if isinstance(storage, click.Group):
        storage.add_command(adopt)
