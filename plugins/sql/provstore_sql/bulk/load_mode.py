"""Load mode of ``bulk_insert(..., exclusive_load=True)``: drop a table's indexes, load, rebuild each in one pass.

When one ``bulk_insert`` call is large compared with the table it goes into, maintaining every secondary
index (and, on PostgreSQL, checking every foreign key) row by row costs more than building the index by
sorting and validating each foreign key with one anti-join afterwards, as ``pg_restore`` and SQLite's own
documentation advise. :meth:`BulkLoad.begin` drops, inside the caller's transaction:

- SQLite: the table's ``CREATE INDEX`` indexes (those with SQL text in ``sqlite_master``); the ``UNIQUE``
  and foreign-key clauses of ``CREATE TABLE`` stay (SQLite cannot drop them without rebuilding the table);
- PostgreSQL: every index that backs no constraint, the table's primary key and ``UNIQUE`` constraints
  (unless a foreign key depends on them: ``db_dbnode``'s primary key stays) and the table's own foreign keys.
  Keeping a primary key up to date row by row costs the server as much as the rest of a link load (1 s per
  million rows, 0.5 s for the rows themselves); building it afterwards costs 0.25 s.

:meth:`BulkLoad.finish` recreates exactly what was dropped from the database's own definitions
(``sqlite_master.sql``, ``pg_get_indexdef``, ``pg_get_constraintdef``), read before dropping, so the schema
is the one that was there whatever migrations changed. DDL is transactional on both databases: a failure
or a killed process leaves the old schema and none of the rows.
"""

from __future__ import annotations

from typing import Any

from provstore.exceptions import IntegrityError
from sqlalchemy import Connection, Table, text
from sqlalchemy import exc as sa_exc

__all__ = ["BulkLoad"]

_SAVEPOINT = "provstore_bulk_load"
_NOT_NOW = frozenset({"55P03", "40P01", "55006"})
"""PostgreSQL error codes meaning "bulk-load mode is not possible now": lock timeout, deadlock, pending triggers."""
_REBUILD_SETTINGS = {"maintenance_work_mem": "256MB", "work_mem": "64MB", "jit": "off"}
"""PostgreSQL settings while recreating: memory per index build (sorts of a million keys stay in memory) and
per hash join validating a foreign key (15 % faster than with the 4MB default at a million rows); no JIT
compilation of the validation queries (it costs more than it saves on queries of a second)."""
_PG_HEAP_BYTES = "SELECT pg_relation_size(%(table)s::regclass)"

_PG_INDEXES = """
SELECT format('DROP INDEX %%I.%%I', n.nspname, ci.relname), pg_get_indexdef(i.indexrelid)
FROM pg_index i
JOIN pg_class ci ON ci.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = ci.relnamespace
WHERE i.indrelid = %(table)s::regclass
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conrelid = i.indrelid AND c.conindid = i.indexrelid)
ORDER BY ci.relname
"""
"""Indexes backing no constraint of the table: how to drop each and its definition."""

_PG_CONSTRAINTS = """
SELECT format('ALTER TABLE %%s DROP CONSTRAINT %%I', c.conrelid::regclass, c.conname),
       format('ALTER TABLE %%s ADD CONSTRAINT %%I %%s', c.conrelid::regclass, c.conname, pg_get_constraintdef(c.oid)),
       CASE WHEN c.condeferrable THEN format('%%I.%%I', n.nspname, c.conname) END,
       CASE WHEN c.contype = 'f' THEN c.confrelid::regclass::text END
FROM pg_constraint c
JOIN pg_namespace n ON n.oid = c.connamespace
WHERE c.conrelid = %(table)s::regclass
  AND (c.contype = 'f' OR (c.contype IN ('p', 'u') AND NOT EXISTS (
      SELECT 1 FROM pg_constraint r WHERE r.contype = 'f' AND r.conindid = c.conindid)))
ORDER BY c.contype DESC, c.conname
"""
"""The table's unique constraints and primary key (no foreign key depending on them), then its foreign keys:
drop, add, deferrable name, referenced table."""

_PG_DEFERRABLE = """
SELECT format('%%I.%%I', n.nspname, c.conname), c.condeferred
FROM pg_constraint c
JOIN pg_namespace n ON n.oid = c.connamespace
WHERE c.condeferrable AND c.conrelid = ANY(%(tables)s::regclass[])
ORDER BY 1
"""
"""Deferrable constraints of the given tables (whose checks may be queued) and whether they start deferred."""


class BulkLoad:
    """The secondary indexes and constraints of one table, dropped for a bulk load and recreated by :meth:`finish`."""

    def __init__(
        self, connection: Connection, table: Table, drops: list[str], creates: list[tuple[str, str | None]]
    ) -> None:
        """Remember what :meth:`begin` dropped (``drops``) and how to recreate it (``creates``).

        Each of ``creates`` is a statement and, for a foreign key, the table it references.
        """
        self.connection = connection
        self.table = table
        self.drops = drops
        self.creates = creates

    @staticmethod
    def holds_at_most(connection: Connection, table: Table, limit: int) -> bool:
        """Return whether ``table`` holds at most ``limit`` rows; counting stops at ``limit + 1`` rows.

        Asking costs at most a scan of that many rows, however big the table: an ``exclusive_load`` bulk insert
        asks whether its load at least doubles the table, which is when rebuilding the indexes pays.
        """
        bounded = text(f"SELECT count(*) FROM (SELECT 1 FROM {_quoted(connection, table)} LIMIT :limit) AS head")
        return connection.scalar(bounded, {"limit": limit + 1}) <= limit

    @classmethod
    def begin(cls, connection: Connection, table: Table, lock_timeout: float) -> BulkLoad | None:
        """Drop the table's secondary indexes (and PostgreSQL constraints) for the rest of a load.

        Returns None (keep loading row by row, nothing changed) if there is nothing to drop or, on
        PostgreSQL, if the exclusive locks cannot be had within ``lock_timeout`` seconds (another
        transaction uses the table) or the transaction has pending foreign-key checks that cannot run now.

        :raises IntegrityError: running the pending foreign-key checks of rows loaded so far found a missing key.
        """
        if connection.dialect.name == "postgresql":
            return cls._begin_postgresql(connection, table, lock_timeout)
        return cls._begin_sqlite(connection, table)

    @classmethod
    def _begin_sqlite(cls, connection: Connection, table: Table) -> BulkLoad | None:
        """Drop the table's ``CREATE INDEX`` indexes (the write lock is already held: ``BEGIN IMMEDIATE``)."""
        rows = connection.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL "
            "ORDER BY name",
            (table.name,),
        ).all()
        if not rows:
            return None
        quote = connection.dialect.identifier_preparer.quote
        drops = [f"DROP INDEX {quote(name)}" for name, _ in rows]
        for statement in drops:
            connection.exec_driver_sql(statement)
        return cls(connection, table, drops, [(sql, None) for _, sql in rows])

    @classmethod
    def _begin_postgresql(cls, connection: Connection, table: Table, lock_timeout: float) -> BulkLoad | None:
        """Lock the table and the tables its foreign keys reference, run pending checks, drop; None if not now."""
        parameters = {"table": table.name}
        indexes = connection.exec_driver_sql(_PG_INDEXES, parameters).all()
        constraints = connection.exec_driver_sql(_PG_CONSTRAINTS, parameters).all()
        if not indexes and not constraints:
            return None
        referenced = sorted({row[3] for row in constraints if row[3] is not None} - {table.name})
        dropped = {row[2] for row in constraints}
        deferrable = connection.exec_driver_sql(_PG_DEFERRABLE, {"tables": [table.name, *referenced]}).all()
        connection.exec_driver_sql(f"SAVEPOINT {_SAVEPOINT}")
        try:
            # dropping a foreign key takes ACCESS EXCLUSIVE on the referenced table too: take every lock first,
            # giving up (not waiting for ever) if another transaction holds one of them
            previous = connection.exec_driver_sql("SELECT current_setting('lock_timeout')").scalar()
            connection.exec_driver_sql(f"SET LOCAL lock_timeout = {max(1, round(lock_timeout * 1000))}")
            tables = ", ".join([_quoted(connection, table), *referenced])
            connection.exec_driver_sql(f"LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE")
            connection.exec_driver_sql("SELECT set_config('lock_timeout', %(value)s, true)", {"value": previous})
            if deferrable:  # ALTER TABLE refuses tables with queued checks: run them now (rows loaded so far and
                # the caller's earlier writes in this transaction), then defer again what stays
                connection.exec_driver_sql(f"SET CONSTRAINTS {', '.join(name for name, _ in deferrable)} IMMEDIATE")
            drops = [row[0] for row in indexes] + [row[0] for row in constraints]
            for statement in drops:
                connection.exec_driver_sql(statement)
            deferred_again = [name for name, deferred in deferrable if deferred and name not in dropped]
            if deferred_again:
                connection.exec_driver_sql(f"SET CONSTRAINTS {', '.join(deferred_again)} DEFERRED")
        except sa_exc.DBAPIError as exc:
            connection.exec_driver_sql(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
            connection.exec_driver_sql(f"RELEASE SAVEPOINT {_SAVEPOINT}")
            if getattr(exc.orig, "pgcode", None) in _NOT_NOW:
                return None
            if isinstance(exc, sa_exc.IntegrityError):
                raise IntegrityError(f"{table.name}: {_one_line(exc.orig)}") from None
            raise
        connection.exec_driver_sql(f"RELEASE SAVEPOINT {_SAVEPOINT}")
        creates = [(row[1], None) for row in indexes] + [(row[1], row[3]) for row in constraints]
        return cls(connection, table, drops, creates)

    def finish(self) -> None:
        """Recreate what :meth:`begin` dropped, building each index in one pass and checking each foreign key once.

        PostgreSQL checks a foreign key with one anti-join of the loaded table and the referenced one. Its
        planner picks a hash join, which reads the whole referenced table; when that table is bigger than the
        loaded one (links referencing nodes with their JSON), walking both key indexes in order (a merge join,
        the loaded table's index being built just before) reads far less: 0.7 s instead of 1.1 s per foreign
        key for a million links. So hash joins are off for those checks, and left to the planner for small
        referenced tables (users, computers), where hashing them is the cheapest.

        :raises IntegrityError: the loaded rows hold a duplicate unique key or a reference to a missing row
            (one line naming the table, the index or constraint and the key); the caller's transaction rolls back.
        """
        connection = self.connection
        postgresql = connection.dialect.name == "postgresql"
        names = [*_REBUILD_SETTINGS, "enable_hashjoin"] if postgresql else []
        previous = {name: connection.exec_driver_sql(f"SELECT current_setting('{name}')").scalar() for name in names}
        own_bytes = 0
        if postgresql:
            _set_local(connection, _REBUILD_SETTINGS)
            own_bytes = self._heap_bytes(self.table.name)
        try:
            for statement, referenced in self.creates:
                merge = postgresql and referenced is not None and self._heap_bytes(referenced) > own_bytes
                if merge:
                    _set_local(connection, {"enable_hashjoin": "off"})
                connection.exec_driver_sql(statement)
                if merge:
                    _set_local(connection, {"enable_hashjoin": previous["enable_hashjoin"]})
        except sa_exc.IntegrityError as exc:
            raise IntegrityError(f"{self.table.name}: {_one_line(exc.orig)}") from None
        _set_local(connection, previous)

    def _heap_bytes(self, table: str) -> int:
        """Return the size on disk of ``table`` (a name PostgreSQL resolves), without its indexes."""
        return self.connection.exec_driver_sql(_PG_HEAP_BYTES, {"table": table}).scalar()


def _set_local(connection: Connection, settings: dict[str, str]) -> None:
    """Set PostgreSQL settings until the end of the transaction."""
    for name, value in settings.items():
        connection.exec_driver_sql("SELECT set_config(%(name)s, %(value)s, true)", {"name": name, "value": value})


def _quoted(connection: Connection, table: Table) -> str:
    """Return the table's name quoted for the connection's dialect."""
    return connection.dialect.identifier_preparer.quote(table.name)


def _one_line(error: Any) -> str:
    """Return a driver error as one line: PostgreSQL's message and detail (the key), or SQLite's message."""
    diag = getattr(error, "diag", None)
    if diag is not None and diag.message_primary:
        parts = [diag.message_primary.strip(), (diag.message_detail or "").strip()]
        return "; ".join(part for part in parts if part)
    return " ".join(str(error).split())
