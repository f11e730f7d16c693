"""Bulk writing of an SQL storage: ``bulk_insert`` (with its explicit load mode), ``bulk_update``, node deletes.

:class:`BulkWriter` runs the statements in the storage's transactions (:class:`~provstore_sql.sessions.SessionManager`)
and asks the backend's :class:`~provstore_sql.dialect.SqlDialect` for the database-specific parts: the insert
path of one chunk and the deletes of one chunk of nodes.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from provstore.exceptions import IntegrityError, TransactionError, ValidationError
from provstore.gc_tuning import spaced_collections
from provstore.iterables import batched
from provstore.storage.entity_types import EntityTypes
from sqlalchemy import Connection, Table, update
from sqlalchemy import exc as sa_exc

from provstore_sql.bulk.load_mode import BulkLoad
from provstore_sql.bulk.rows import RowPreparer, table_for

if TYPE_CHECKING:
    from provstore_sql.dialect import SqlDialect
    from provstore_sql.sessions import SessionManager

__all__ = ["BulkWriter", "translated_errors"]


@contextlib.contextmanager
def translated_errors(table: Table) -> Iterator[None]:
    """Turn database errors of a write to ``table`` into one-line provstore errors."""
    try:
        yield
    except sa_exc.IntegrityError as exc:
        raise IntegrityError(f"{table.name}: {exc.orig}") from exc
    except sa_exc.StatementError as exc:
        if isinstance(exc.orig, (ValueError, TypeError)):
            raise ValidationError(f"{table.name}: invalid value: {exc.orig}") from exc
        raise


class BulkWriter:
    """The bulk operations of one storage, in its transactions, through its dialect's insert and delete paths."""

    def __init__(self, sessions: SessionManager, dialect: SqlDialect) -> None:
        self.sessions = sessions
        self.dialect = dialect

    # ------------------------------------------------------------------ insert
    def insert(
        self,
        entity_type: EntityTypes,
        rows: Iterable[Mapping[str, Any]],
        allow_defaults: bool = False,
        *,
        exclusive_load: bool = False,
    ) -> list[int]:
        """Insert rows in one transaction; return the new pks in input order (see ``SqlStorageBackend.bulk_insert``)."""
        table = table_for(entity_type)
        prepare = RowPreparer(table, allow_defaults)
        chunk_size = self.dialect.bulk_chunk_size
        with spaced_collections(), translated_errors(table), self.sessions.transaction() as session:
            connection = session.connection()
            chunks = batched(rows, chunk_size)
            if not exclusive_load:
                pks: list[int] = []
                for chunk in chunks:
                    pks.extend(
                        self.dialect.insert_chunk(connection, table, chunk, prepare, first_index=len(pks), load=None)
                    )
                return pks
            return self._insert_exclusively(connection, table, chunks, prepare)

    def _insert_exclusively(
        self, connection: Connection, table: Table, chunks: Iterator[list[Any]], prepare: RowPreparer
    ) -> list[int]:
        """Insert the chunks, in load mode once the load at least doubles the table (see ``bulk_insert``)."""
        pks: list[int] = []
        head, ahead = self._read_ahead(chunks)
        load: BulkLoad | None = None
        next_check = 0  # rows inserted at which to ask (again), each time the load doubled; 0: decided
        if ahead and BulkLoad.holds_at_most(connection, table, ahead):  # nothing inserted yet
            load = self._begin_load(connection, table)
        elif ahead:
            next_check = 2 * ahead
        for chunk in itertools.chain(head, chunks):
            if next_check and len(pks) >= next_check:  # asked only when more rows follow
                next_check = 2 * len(pks)
                if BulkLoad.holds_at_most(connection, table, 2 * len(pks)):  # rows inserted counted
                    load = self._begin_load(connection, table)
                    next_check = 0  # even if the switch could not be made now: no second wait
            pks.extend(self.dialect.insert_chunk(connection, table, chunk, prepare, first_index=len(pks), load=load))
        if load is not None:
            load.finish()
        return pks

    def _read_ahead(self, chunks: Iterator[list[Any]]) -> tuple[list[list[Any]], int]:
        """Read the chunks holding the first ``bulk_load_threshold`` rows, and the chunk after them if any.

        Returns the chunks read and, if a chunk follows the threshold, the count of rows before it (else 0):
        deciding on load mode before inserting anything spares those rows the index updates and, on
        PostgreSQL, the queued foreign-key checks (0.25 s of a million-link load).
        """
        head: list[list[Any]] = []
        held = 0
        threshold = self.dialect.bulk_load_threshold
        for chunk in chunks:
            head.append(chunk)
            if held >= threshold:
                return head, held
            held += len(chunk)
        return head, 0

    def _begin_load(self, connection: Connection, table: Table) -> BulkLoad | None:
        """Switch ``table`` to load mode for the rest of this call (None: the switch cannot be made now)."""
        return BulkLoad.begin(connection, table, self.dialect.bulk_load_lock_timeout)

    # ------------------------------------------------------------------ update
    def update(self, entity_type: EntityTypes, rows: Iterable[dict[str, Any]]) -> None:
        """Update rows, each holding ``id`` plus the columns to change, in one transaction.

        :raises IntegrityError: a row lacks ``id``, has unknown keys or violates a constraint; nothing is written.
        """
        table = table_for(entity_type)
        columns = frozenset(column.name for column in table.columns if not column.primary_key)
        with spaced_collections(), translated_errors(table), self.sessions.transaction() as session:
            connection = session.connection()
            index = 0
            for chunk in batched(rows, self.dialect.bulk_chunk_size):
                groups: dict[frozenset[str], list[dict[str, Any]]] = {}
                for row in chunk:
                    if not isinstance(row, dict) or "id" not in row:
                        raise IntegrityError(f"{table.name} row {index} must be a dict holding 'id'")
                    keys = frozenset(row) - {"id"}
                    if keys - columns:
                        unknown = ", ".join(sorted(keys - columns))
                        raise IntegrityError(f"{table.name} row {index} has unknown keys: {unknown}")
                    groups.setdefault(keys, []).append({f"v_{key}": value for key, value in row.items()})
                    index += 1
                for keys, params in groups.items():
                    if keys:
                        statement = (
                            update(table)
                            .where(table.c.id == sa.bindparam("v_id"))
                            .values({key: sa.bindparam(f"v_{key}") for key in keys})
                        )
                        connection.execute(statement, params)
            session.expire_all()  # loaded ORM objects may be stale now

    # ------------------------------------------------------------------ delete
    def delete_nodes(self, pks_to_delete: Sequence[int]) -> None:
        """Delete the nodes and their links, group memberships, comments and logs, in chunks.

        Nodes, comments and logs loaded in this thread's session are deleted through it first, as by
        ``collection.delete``, so entities still holding them report ``is_stored`` False (again True after
        a rollback); the rest goes in bulk DELETEs.

        :raises TransactionError: if called outside a transaction.
        """
        if not self.sessions.in_transaction:
            raise TransactionError("delete_nodes_and_connections must be called inside `with storage.transaction():`")
        from provstore_sql.entities.deletion import delete_held_rows
        from provstore_sql.models import DbNode

        pks = list(pks_to_delete)
        session = self.sessions.session()
        delete_held_rows(session, DbNode, pks)
        connection = session.connection()
        for chunk in batched(pks, self.dialect.delete_chunk_size):
            self.dialect.delete_node_chunk(connection, chunk)
