"""``provstore storage adopt`` of an aiida-core 2.9 ``core.psql_dos`` store: its database becomes provstore's in place.

Everything happens in one transaction of the aiida-core database, so a failure anywhere (or a kill) leaves it
as it was: aiida-core's tables (with their sequences, indexes and constraints) move into the schema
``aiida_core``, provstore's schema is created at head in ``public``, every row is copied with its primary key,
the sequences are set past the highest ids and the repository uuid is recorded from the container. Before the
commit the result is checked as provstore checks a store (schema version, alembic's comparison with the
models, row counts, foreign keys). aiida-core's tables stay in ``aiida_core`` until dropped by hand.

The container is not moved: aiida-core keeps it in ``<repository_uri>/container``, and the adopted profile's
``repository_uri`` names that folder. The adoption refuses while any other session is connected to the
database, and holds provstore's profile lock (an advisory lock) until it commits.
"""

from __future__ import annotations

import hashlib
import json
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from provstore.exceptions import IncompatibleStorageSchema, LockedProfileError, StorageError, UnreachableStorage
from provstore.text import plural
from provstore_sql import tables
from provstore_sql.migrator import REPOSITORY_UUID_KEY, VERSION_TABLE, SqlMigrator
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from provstore_aiida.schema import read_revision

__all__ = ["KEPT_SCHEMA", "PsqlAdoptionPlan", "adopt_psql_dos", "adopted_storage_config"]

ADOPTABLE_REVISION = "main_0002"
KEPT_SCHEMA = "aiida_core"
"""The PostgreSQL schema aiida-core's tables are kept in after adoption."""

LOCK_KEY = int.from_bytes(hashlib.sha256(b"provstore.profile").digest()[:8], "big", signed=True)
"""provstore's profile lock of a ``core.psql_dos`` database (the advisory lock key of provstore-psql-dos)."""

AIIDA_TABLES = (*tables.metadata.tables, VERSION_TABLE)
"""The tables of an aiida-core 2.9 database: provstore's table names and the version table."""


@dataclass
class PsqlAdoptionPlan:
    """What adopting a database changes (``changes``, one line each), the rows per table and the container."""

    database: str
    container: Path
    changes: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)


def container_of(config: dict[str, Any]) -> Path:
    """Return the container folder of an aiida-core psql_dos configuration (``<repository_uri>/container``)."""
    parts = urllib.parse.urlsplit(config["repository_uri"])
    folder = urllib.parse.unquote(parts.path) if parts.scheme == "file" else config["repository_uri"]
    return Path(folder).expanduser() / "container"


def adopted_storage_config(config: dict[str, Any]) -> dict[str, Any]:
    """Return the ``core.psql_dos`` configuration of the adopted store (same database, the container's folder)."""
    keys = ("database_hostname", "database_port", "database_username", "database_password", "database_name")
    adopted = {key: config[key] for key in keys if key in config}
    adopted["repository_uri"] = str(container_of(config))
    return adopted


def _engine(config: dict[str, Any]) -> Engine:
    url = URL.create(
        "postgresql+psycopg2",
        username=config["database_username"],
        password=config.get("database_password") or None,
        host=config.get("database_hostname", "localhost"),
        port=int(config.get("database_port", 5432)),
        database=config["database_name"],
    )
    return create_engine(url, poolclass=NullPool)


def _others(connection: Connection) -> list[int]:
    """Return the process ids of the other sessions connected to this database."""
    return list(
        connection.scalars(
            sa.text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "ORDER BY pid"
            )
        )
    )


def _container_uuid(container: Path) -> str:
    config = container / "config.json"
    try:
        found = json.loads(config.read_text())
    except (OSError, ValueError):
        raise IncompatibleStorageSchema(f"no disk-objectstore container at {container} (aiida-core's place)") from None
    if found.get("hash_type") != "sha256" or not found.get("container_id"):
        raise IncompatibleStorageSchema(f"{container} is not a sha256 disk-objectstore container")
    return str(found["container_id"])


def _plan(connection: Connection, config: dict[str, Any]) -> tuple[PsqlAdoptionPlan, str]:
    """Check the database and container on ``connection`` (reading only); return the plan and the repository uuid."""
    name = config["database_name"]
    version = read_revision(connection)
    if version != ADOPTABLE_REVISION:
        raise IncompatibleStorageSchema(
            f"database {name} has schema {version}, not aiida-core 2.9's {ADOPTABLE_REVISION}: only that can be "
            "adopted (migrate it with `verdi storage migrate` first, or copy it with storage transfer)"
        )
    if connection.scalar(sa.text("SELECT 1 FROM pg_namespace WHERE nspname = :name"), {"name": KEPT_SCHEMA}):
        raise IncompatibleStorageSchema(f"database {name} has a schema {KEPT_SCHEMA} already: drop or rename it first")
    found = set(sa.inspect(connection).get_table_names())
    unknown = sorted(found - set(AIIDA_TABLES))
    if unknown:
        raise IncompatibleStorageSchema(f"database {name} holds tables aiida-core 2.9 has not: {', '.join(unknown)}")
    plan = PsqlAdoptionPlan(name, container_of(config))
    inspector = sa.inspect(connection)
    for table in tables.metadata.sorted_tables:
        if table.name not in found:
            raise IncompatibleStorageSchema(f"database {name} lacks the table {table.name}")
        columns = {column["name"] for column in inspector.get_columns(table.name)}
        if columns != set(table.columns.keys()):
            raise IncompatibleStorageSchema(
                f"database {name}: the columns of {table.name} differ from provstore's "
                f"({sorted(columns ^ set(table.columns.keys()))})"
            )
        plan.rows[table.name] = connection.scalar(sa.text(f'SELECT count(*) FROM "{table.name}"'))
    repository_uuid = _container_uuid(plan.container)
    head = SqlMigrator.version_head()
    plan.changes = [
        f"schema: aiida-core {version} -> provstore {head} (provstore's column types, indexes and constraints)",
        "rows: every row copied with its primary key ("
        + ", ".join(f"{table} {count}" for table, count in plan.rows.items())
        + ")",
        f"aiida-core's tables kept in the schema {KEPT_SCHEMA} (once satisfied: DROP SCHEMA {KEPT_SCHEMA} CASCADE)",
        f"settings: {REPOSITORY_UUID_KEY} recorded from the container ({repository_uuid})",
        f"container: stays in {plan.container}; the profile's repository_uri points at it (no file moved)",
        "all in one transaction: a failure changes nothing",
    ]
    return plan, repository_uuid


def adopt_psql_dos(config: dict[str, Any], profile_name: str, *, dry_run: bool = False) -> PsqlAdoptionPlan:
    """Adopt the aiida-core psql_dos store of ``config`` (its ``storage.config``) as a provstore store (see above).

    :raises IncompatibleStorageSchema: not an aiida-core 2.9 psql_dos store, or its container is missing.
    :raises LockedProfileError: another session is connected to the database, or holds provstore's lock.
    :raises StorageError: the result could not be verified; nothing was changed.
    """
    engine = _engine(config)
    name = config["database_name"]
    try:
        with engine.connect() as connection:
            others = _others(connection)
            if others:
                raise LockedProfileError(
                    f"database {name} is in use by {plural(len(others), 'other session')} "
                    f"(pids {', '.join(map(str, others))}): stop aiida-core and every other client first"
                )
            plan, repository_uuid = _plan(connection, config)
            connection.rollback()
            if dry_run:
                return plan
            with connection.begin():
                _adopt(connection, plan, repository_uuid, profile_name)
        return plan
    except sa_exc.OperationalError as exc:
        raise UnreachableStorage(f"cannot connect to database {name}: {_first_line(exc.orig)}") from exc
    except sa_exc.DBAPIError as exc:  # e.g. the role may not create schemas: rolled back
        raise StorageError(f"adopting {name} failed, nothing changed: {_first_line(exc.orig)}") from exc
    finally:
        engine.dispose()


def _adopt(connection: Connection, plan: PsqlAdoptionPlan, repository_uuid: str, profile_name: str) -> None:
    """Do the adoption on ``connection``, inside its transaction (the caller commits, or rolls back on an error)."""
    from alembic import command

    run = connection.exec_driver_sql
    run("SET LOCAL lock_timeout = '5s'")
    if not connection.scalar(sa.text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": LOCK_KEY}):
        raise LockedProfileError(f"database {plan.database} is locked by a provstore process: stop it first")
    run(f"CREATE SCHEMA {KEPT_SCHEMA}")
    for table in AIIDA_TABLES:
        run(f'ALTER TABLE public."{table}" SET SCHEMA {KEPT_SCHEMA}')
    command.upgrade(SqlMigrator.alembic_config(connection), "head")
    for table in tables.metadata.sorted_tables:
        columns = ", ".join(f'"{column}"' for column in table.columns.keys())
        where = f" WHERE key <> '{REPOSITORY_UUID_KEY}'" if table is tables.settings else ""
        run(f'INSERT INTO public."{table.name}" ({columns}) SELECT {columns} FROM {KEPT_SCHEMA}."{table.name}"{where}')
        run(
            f"SELECT setval(pg_get_serial_sequence('public.\"{table.name}\"', 'id'), "
            f'coalesce((SELECT max(id) FROM public."{table.name}"), 0) + 1, false)'
        )
    connection.execute(
        sa.insert(tables.settings).values(
            key=REPOSITORY_UUID_KEY, val=repository_uuid, description="uuid of the storage's repository"
        )
    )
    try:
        run("SET CONSTRAINTS ALL IMMEDIATE")  # the deferred foreign keys are checked now, not at commit
    except sa_exc.IntegrityError as exc:
        raise StorageError(f"adopting {plan.database} failed, nothing changed: {_first_line(exc.orig)}") from exc
    for table in tables.metadata.sorted_tables:
        count = connection.scalar(sa.text(f'SELECT count(*) FROM public."{table.name}"'))
        if count != plan.rows[table.name]:  # settings: aiida-core's repository|uuid row was written anew
            raise StorageError(
                f"adopting {plan.database} failed, nothing changed: {table.name} has {plural(count, 'row')}, "
                f"not {plan.rows[table.name]}"
            )
    migrator = SqlMigrator(connection, profile_name)
    migrator.validate(repository_uuid)
    differences = migrator.schema_differences()
    if differences:
        raise StorageError(f"adopting {plan.database} failed, nothing changed: schema differs by {differences[0]}")
    others = _others(connection)
    if others:
        raise LockedProfileError(
            f"database {plan.database} was connected to meanwhile (pids {others}): nothing changed"
        )


def _first_line(error: object) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
