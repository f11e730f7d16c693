"""What differs between the SQL storage backends, declared by each of them as a :class:`SqlDialect`.

:class:`~provstore_sql.backend.SqlStorageBackend` does the same work on every database (sessions and
transactions, bulk writing, schema management, maintenance); a backend states once, in its dialect, how to
reach its database and where its database differs: the engine, the inter-process lock, the insert path of
``bulk_insert``, the delete statements, the maintenance statements, what a forked child keeps, and what
opening a storage does to the schema. A backend class declares ``dialect = MyDialect()``; the dialect is
stateless (everything comes in as arguments), so one instance serves every storage of the class.

Start from :class:`SqliteDialect` for an SQLite database and from :class:`SqlDialect` otherwise; only
:meth:`SqlDialect.create_engine` must be written.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, Table, delete, insert

from provstore_sql import tables
from provstore_sql.bulk.sqlite_insert import sqlite_insert_returning_ids
from provstore_sql.locking import NullProfileLock, ProfileLock

if TYPE_CHECKING:
    from provstore.config import Profile
    from provstore.repository import AbstractRepositoryBackend

    from provstore_sql.bulk.load_mode import BulkLoad
    from provstore_sql.bulk.rows import RowPreparer
    from provstore_sql.migrator import SqlMigrator

__all__ = ["SqlDialect", "SqliteDialect"]


class SqlDialect(ABC):
    """The database-specific part of an SQL storage backend; every method but :meth:`create_engine` has a default."""

    bulk_chunk_size: int = 2000
    """Rows sent per INSERT/UPDATE statement by the bulk operations (memory stays bounded by this)."""

    delete_chunk_size: int = 500
    """Primary keys per DELETE statement of ``delete_nodes_and_connections`` (never one giant IN)."""

    bulk_load_threshold: int = 20_000
    """Rows an ``exclusive_load`` call reads ahead before deciding on load mode (see ``bulk_insert``)."""

    bulk_load_lock_timeout: float = 5.0
    """Seconds load mode waits for its table locks (PostgreSQL) before going on without it."""

    # ------------------------------------------------------------------ reaching the database
    @abstractmethod
    def create_engine(self, profile: Profile, create: bool = False) -> Engine:
        """Return a new engine on the profile's database; ``create=True`` (only from ``initialise``) may create it.

        Pass :data:`provstore_sql.engine.JSON_ENGINE_KWARGS`; SQLite engines also go through
        :func:`provstore_sql.engine.configure_sqlite_engine`.
        """

    def storage_exists(self, profile: Profile) -> bool:
        """Return whether the profile's database exists at all (True when that cannot be known cheaply)."""
        return True

    def profile_lock(self, profile: Profile) -> ProfileLock:
        """Return the lock coordinating the processes that use ``profile`` (default: none needed)."""
        return NullProfileLock(profile.name)

    # ------------------------------------------------------------------ schema
    def open_schema(self, migrator: SqlMigrator, repository: AbstractRepositoryBackend) -> None:
        """Make the schema usable when a storage opens (default: check version and repository, modify nothing)."""
        migrator.validate(repository.uuid)

    def schema_version(self, migrator: SqlMigrator) -> str | None:
        """Return the schema version that ``get_info`` reports (default: the provstore revision of the database)."""
        return migrator.version()

    def destroy_database(self, profile: Profile) -> None:
        """Remove the existing database (``initialise(reset=True)``, ``delete_storage``); default: drop every table."""
        from provstore_sql.migrator import SqlMigrator

        engine = self.create_engine(profile)
        try:
            with SqlMigrator.connect(engine, profile.name) as migrator:
                migrator.drop_all()
        finally:
            engine.dispose()

    # ------------------------------------------------------------------ writing
    def insert_chunk(
        self,
        connection: Connection,
        table: Table,
        rows: list[Mapping[str, Any]],
        prepare: RowPreparer,
        *,
        first_index: int,
        load: BulkLoad | None,
    ) -> list[int]:
        """Insert one chunk of ``bulk_insert`` and return the new pks in input order.

        ``prepare`` (a :class:`~provstore_sql.bulk.rows.RowPreparer`) checks and completes the caller's rows, in
        order; ``first_index`` is the position of ``rows[0]`` in the whole input (for error messages); ``load``
        is the :class:`~provstore_sql.bulk.load_mode.BulkLoad` in progress (the table is then the transaction's
        alone), else None. Default: multi-row ``INSERT ... RETURNING id`` with SQLAlchemy's batching.
        """
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return list(connection.execute(statement, prepare.many(rows)).scalars())

    def delete_node_chunk(self, connection: Connection, pks: list[int]) -> None:
        """Delete one chunk of nodes and every row that references them (links, memberships, comments, logs)."""
        link = tables.links
        connection.execute(delete(link).where(link.c.input_id.in_(pks)))
        connection.execute(delete(link).where(link.c.output_id.in_(pks)))
        for table in (tables.group_nodes, tables.comments, tables.logs):
            connection.execute(delete(table).where(table.c.dbnode_id.in_(pks)))
        node = tables.nodes
        connection.execute(delete(node).where(node.c.id.in_(pks)))

    # ------------------------------------------------------------------ maintenance and information
    def maintain_database(self, engine: Engine, full: bool, dry_run: bool) -> dict[str, Any]:
        """Run database housekeeping for ``maintain`` and say what was done (default: ``ANALYZE``).

        The calling thread holds no connection of ``engine`` (outside a transaction); ``full`` runs under
        the exclusive profile lock.
        """
        if dry_run:
            return {"analyze": "would run"}
        with engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
            connection.commit()
        return {"analyze": "done"}

    def database_info(self, engine: Engine, profile: Profile) -> dict[str, Any]:
        """Return the ``database`` entry of ``get_info`` (never secrets)."""
        return {"dialect": engine.dialect.name}

    # ------------------------------------------------------------------ processes
    def after_fork_in_child(self, engine: Engine) -> bool:
        """Make ``engine`` usable in a forked child; return whether the child keeps the parent's connections.

        Default: forget the parent's pooled connections (they belong to the parent) and return False.
        """
        engine.dispose(close=False)
        return False


class SqliteDialect(SqlDialect):
    """An SQLite database: ``bulk_insert`` through hand-built multi-row ``INSERT ... RETURNING``.

    SQLAlchemy sends one statement per row on SQLite when the ids must come back in input order; see
    :mod:`provstore_sql.bulk.sqlite_insert`.
    """

    def insert_chunk(
        self,
        connection: Connection,
        table: Table,
        rows: list[Mapping[str, Any]],
        prepare: RowPreparer,
        *,
        first_index: int,
        load: BulkLoad | None,
    ) -> list[int]:
        """Insert one chunk with as many rows per statement as SQLite's variable limit allows; pks in input order."""
        return sqlite_insert_returning_ids(connection, table, prepare.many(rows))
