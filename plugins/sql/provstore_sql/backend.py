"""The storage backend shared by every SQL database: sessions, transactions, bulk operations, settings, info.

Concrete backends (``core.sqlite_temp``, ``core.sqlite_dos``, ``core.psql_dos``) only say how to
reach their database and repository; see :class:`SqlStorageBackend` for what they override.
"""

from __future__ import annotations

import contextlib
import datetime
import itertools
import os
import threading
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import sqlalchemy as sa
from provstore.exceptions import (
    ClosedStorage,
    ConfigurationError,
    IntegrityError,
    LockedProfileError,
    NotExistent,
    StorageMigrationError,
    TransactionError,
    ValidationError,
)
from provstore.gc_tuning import spaced_collections
from provstore.iterables import batched
from provstore.storage.abstract import StorageBackend
from provstore.storage.entity_types import EntityTypes
from provstore.storage.json_values import clean_json_value
from sqlalchemy import Connection, Engine, Table, delete, func, insert, select, update
from sqlalchemy import exc as sa_exc

from provstore_sql import tables
from provstore_sql.bulk import RowPreparer, table_for
from provstore_sql.bulk_load import BulkLoad
from provstore_sql.engine import BEGIN_MODE_OPTION
from provstore_sql.locking import NullProfileLock, ProfileLock
from provstore_sql.migrator import SqlMigrator
from provstore_sql.sqlite_insert import sqlite_insert_returning_ids

if TYPE_CHECKING:
    from provstore.config import Profile
    from provstore.repository import AbstractRepositoryBackend
    from sqlalchemy.orm import Session, SessionTransaction, scoped_session

__all__ = ["SqlStorageBackend"]

_COLLECTIONS = {
    "authinfos": "SqlAuthInfoCollection",
    "comments": "SqlCommentCollection",
    "computers": "SqlComputerCollection",
    "groups": "SqlGroupCollection",
    "logs": "SqlLogCollection",
    "nodes": "SqlNodeCollection",
    "users": "SqlUserCollection",
}

_OPEN_BACKENDS: weakref.WeakSet[SqlStorageBackend] = weakref.WeakSet()


def _reset_backends_after_fork() -> None:
    for backend in list(_OPEN_BACKENDS):
        backend._after_fork()


os.register_at_fork(after_in_child=_reset_backends_after_fork)


class SqlStorageBackend(StorageBackend):
    """Storage backend on an SQL database through SQLAlchemy, with a thread-bound session per thread.

    Collaborators use :meth:`get_session`, :meth:`transaction`, :attr:`in_transaction`, :meth:`connection`,
    :attr:`dialect_name`, :meth:`get_repository`, :attr:`default_user` and :attr:`profile`. Opening a storage,
    queries and reads of Core statements need no ORM: ``sqlalchemy.orm`` and the ORM classes of
    :mod:`provstore_sql.models` load with the first session (:meth:`get_session`, :meth:`transaction`,
    the entity collections).

    A subclass **must** provide:

    - ``_create_engine(cls, profile, create=False) -> Engine``: a new engine for the profile's database
      (pass :data:`provstore_sql.engine.JSON_ENGINE_KWARGS`; SQLite engines also go through
      :func:`provstore_sql.engine.configure_sqlite_engine`); ``create=True`` only from :meth:`initialise`.
    - ``Configuration`` (pydantic model of ``storage.config``) and ``default_repository_backend``.

    A subclass **may** override:

    - ``_storage_exists(cls, profile)``: False makes :meth:`version_profile` return None without connecting.
    - ``_default_repository_config(cls, profile)``: the repository config when the profile names none.
    - ``_profile_lock(cls, profile) -> ProfileLock``: the inter-process lock, shared while open, exclusive
      for ``maintain(full=True)``, ``migrate`` and ``initialise`` (default: :class:`NullProfileLock`).
    - ``_prepare_storage()``: make the storage usable on open (default: validate, modifying nothing).
    - ``_destroy_database(cls, profile)``: used by ``initialise(reset=True)`` (default: drop every table).
    - ``_insert_chunk(connection, table, rows, prepare)``: one chunk of :meth:`bulk_insert`, the caller's rows
      to pass through ``prepare`` (a :class:`~provstore_sql.bulk.RowPreparer`, in order) on the way (default:
      multi-row ``INSERT ... RETURNING``, hand-built on SQLite); must return the pks in input order. During
      bulk-load mode ``self._local.bulk_load`` is the :class:`~provstore_sql.bulk_load.BulkLoad` in progress
      (on PostgreSQL the transaction then holds the table exclusively), else None.
    - ``_delete_node_chunk(connection, pks)``: one chunk of :meth:`delete_nodes_and_connections`.
    - ``_maintain_database(full, dry_run)``: database housekeeping for :meth:`maintain` (default: ANALYZE).
    - ``_database_info()``: the ``database`` entry of :meth:`get_info` (never secrets).
    - ``_after_fork()``: called in a forked child (default: drop the parent's pooled connections and
      sessions); call ``super()`` and re-take the lock with ``self._lock.reacquire_after_fork()`` if it has one.
    - ``bulk_chunk_size`` / ``delete_chunk_size``: rows per bulk statement / pks per DELETE;
      ``bulk_load_threshold`` / ``bulk_load_lock_timeout``: when :meth:`bulk_insert` switches to bulk-load mode.
    """

    bulk_chunk_size: ClassVar[int] = 2000
    """Rows sent per INSERT/UPDATE statement by the bulk operations (memory stays bounded by this)."""

    bulk_load_threshold: ClassVar[int] = 20_000
    """Rows one :meth:`bulk_insert` call inserts before it first considers bulk-load mode (see there): the
    rows before the switch are inserted row by row (on PostgreSQL their foreign keys checked one by one)."""

    bulk_load_lock_timeout: ClassVar[float] = 5.0
    """Seconds bulk-load mode waits for its table locks (PostgreSQL) before going on row by row instead."""

    delete_chunk_size: ClassVar[int] = 500
    """Primary keys per DELETE statement of :meth:`delete_nodes_and_connections` (never one giant IN)."""

    # ------------------------------------------------------------------ subclass hooks
    @classmethod
    def _create_engine(cls, profile: Profile, create: bool = False) -> Engine:
        """Return a new engine for the profile's database; ``create`` allows creating it (initialise)."""
        raise NotImplementedError(f"{cls.__name__} must implement _create_engine")

    @classmethod
    def _validated_config(cls, profile: Profile) -> Any:
        """Return the profile's storage configuration validated by ``Configuration``.

        :raises ConfigurationError: naming the invalid fields, never echoing their values.
        """
        from provstore.config import validate_backend_config

        try:
            return validate_backend_config(cls, profile.storage_config)
        except ConfigurationError as exc:
            raise ConfigurationError(f"profile {profile.name!r}: {exc}") from None

    @classmethod
    def _storage_exists(cls, profile: Profile) -> bool:
        """Return whether the profile's database exists at all (True when that cannot be known cheaply)."""
        return True

    @classmethod
    def _repository_config(cls, profile: Profile) -> dict[str, Any]:
        """Return the repository configuration: the profile's, else :meth:`_default_repository_config`."""
        if "repository" in profile.dictionary:
            return dict(profile.repository_config)
        return cls._default_repository_config(profile)

    @classmethod
    def _default_repository_config(cls, profile: Profile) -> dict[str, Any]:
        """Return the configuration of ``default_repository_backend`` when the profile names no repository."""
        return {}

    @classmethod
    def _profile_lock(cls, profile: Profile) -> ProfileLock:
        """Return the lock coordinating processes using ``profile`` (default: none needed)."""
        return NullProfileLock(profile.name)

    @classmethod
    def _build_repository(cls, profile: Profile) -> AbstractRepositoryBackend:
        """Return the profile's repository backend, built from its configuration.

        :raises ConfigurationError: no repository backend is named or its configuration is invalid.
        """
        from provstore.plugins import get_plugin_manager

        name = profile.repository_backend
        if name is None:
            raise ConfigurationError(f"profile {profile.name!r}: storage backend {cls.__name__} names no repository")
        repository_cls = get_plugin_manager().get_repository_backend(name)
        return repository_cls.from_config(cls._repository_config(profile))

    # ------------------------------------------------------------------ schema management
    @classmethod
    @contextlib.contextmanager
    def _migrator(cls, profile: Profile, create: bool = False) -> Iterator[SqlMigrator]:
        """Yield a migrator on a fresh connection to the profile's database, disposing the engine after."""
        engine = cls._create_engine(profile, create=create)
        try:
            with SqlMigrator.connect(engine, profile.name) as migrator:
                yield migrator
        finally:
            engine.dispose()

    @classmethod
    def version_head(cls) -> str:
        """Return the head schema version of the SQL schema."""
        return SqlMigrator.version_head()

    @classmethod
    def version_profile(cls, profile: Profile) -> str | None:
        """Return the schema version of the profile's database, or None if it is empty or absent."""
        if not cls._storage_exists(profile):
            return None
        with cls._migrator(profile) as migrator:
            return migrator.version()

    @classmethod
    def initialise(cls, profile: Profile, reset: bool = False) -> bool:
        """Create the schema at head and the repository; return False if the storage was already initialised.

        With ``reset=True`` the database and repository are emptied first (needs exclusive use of the profile).
        """
        lock = cls._profile_lock(profile)
        try:
            with lock.exclusive():
                repository = cls._build_repository(profile)
                if reset:
                    if cls._storage_exists(profile):
                        cls._destroy_database(profile)
                    if repository.is_initialised:
                        repository.erase()
                    repository = cls._build_repository(profile)
                with cls._migrator(profile, create=True) as migrator:
                    if migrator.version() is not None:
                        return False
                    repository.initialise()
                    migrator.initialise(repository.uuid)
                return True
        finally:
            lock.release()

    @classmethod
    def delete_storage(cls, profile: Profile) -> None:
        """Delete all of the profile's data, database and repository (``provstore profile delete``).

        :raises LockedProfileError: another process uses the profile.
        """
        lock = cls._profile_lock(profile)
        try:
            with lock.exclusive():
                if cls._storage_exists(profile):
                    cls._destroy_database(profile)
                repository = cls._build_repository(profile)
                if repository.is_initialised:
                    repository.erase()
        finally:
            lock.release()

    @classmethod
    def _destroy_database(cls, profile: Profile) -> None:
        """Drop every table of the profile's database (used by ``initialise(reset=True)``)."""
        with cls._migrator(profile) as migrator:
            migrator.drop_all()

    @classmethod
    def migrate(cls, profile: Profile) -> None:
        """Migrate the profile's database to the head schema (exclusive use of the profile needed).

        :raises StorageMigrationError: the storage is not initialised.
        """
        if not cls._storage_exists(profile):
            raise StorageMigrationError(
                f"the storage of profile {profile.name!r} is not initialised: nothing to migrate "
                "(create it with `provstore profile setup` or `provstore presto`)"
            )
        lock = cls._profile_lock(profile)
        try:
            with lock.exclusive(), cls._migrator(profile) as migrator:
                migrator.migrate()
        finally:
            lock.release()

    # ------------------------------------------------------------------------ lifecycle
    def __init__(self, profile: Profile) -> None:
        """Open the profile's storage after validating its schema version and repository identity."""
        super().__init__(profile)
        self._closed = False
        self._lock = self._profile_lock(profile)
        self._lock.acquire_shared()
        try:
            self._engine = self._create_engine(profile)
            try:
                self._repository = self._build_repository(profile)
                self._prepare_storage()
            except BaseException:
                self._engine.dispose()
                if hasattr(self, "_repository"):
                    self._repository.close()
                raise
        except BaseException:
            self._lock.release()
            raise
        self._session_factory: scoped_session[Session] | None = None  # made by the first get_session()
        self._session_factory_lock = threading.Lock()
        self._local = threading.local()
        self._collections: dict[str, Any] = {}
        self._default_user: Any = None
        _OPEN_BACKENDS.add(self)

    def _prepare_storage(self) -> None:
        """Make the storage usable on open: check the schema version and repository identity, modifying nothing."""
        with SqlMigrator.connect(self._engine, self.profile.name) as migrator:
            migrator.validate(self._repository.uuid)

    def _make_session_factory(self) -> scoped_session[Session]:
        """Return the thread-bound session registry; loaded values survive commits (no reload per attribute)."""
        from sqlalchemy.orm import scoped_session, sessionmaker

        return scoped_session(sessionmaker(bind=self._engine, expire_on_commit=False))

    def _after_fork(self) -> None:
        """Forget the parent's connections and sessions in a forked child (they belong to the parent)."""
        if self._closed:
            return
        self._engine.dispose(close=False)
        self._session_factory = None
        self._session_factory_lock = threading.Lock()
        self._local = threading.local()

    def close(self) -> None:
        """Close sessions, connections and the repository, and release the profile lock."""
        if self._closed:
            return
        self._closed = True
        _OPEN_BACKENDS.discard(self)
        if self._session_factory is not None:
            self._session_factory.remove()
        self._engine.dispose()
        self._repository.close()
        self._lock.release()

    @property
    def is_closed(self) -> bool:
        """Return whether :meth:`close` was called."""
        return self._closed

    def _ensure_open(self) -> None:
        if self._closed:
            raise ClosedStorage(f"the storage of profile {self.profile.name!r} is closed")

    def get_session(self) -> Session:
        """Return the SQLAlchemy session bound to the current thread (the first call imports the ORM).

        :raises ClosedStorage: the backend was closed.
        """
        self._ensure_open()
        factory = self._session_factory
        if factory is None:
            with self._session_factory_lock:
                if self._session_factory is None:
                    self._session_factory = self._make_session_factory()
                factory = self._session_factory
        return factory()

    def _thread_session(self) -> Session | None:
        """Return the session of the current thread if it has one, without making one."""
        factory = self._session_factory
        return factory() if factory is not None and factory.registry.has() else None

    @contextlib.contextmanager
    def connection(self) -> Iterator[Connection]:
        """Yield a connection for Core statements that sees what this thread's session has written.

        Inside a transaction of the thread's session (:meth:`transaction`, or one a read began) this is the
        session's connection, with its pending ORM changes flushed first as the session's own autoflush
        would, and nothing is committed here. Otherwise the statements run in a short transaction on a
        connection of the engine, committed on success and rolled back on an error; no ORM is involved.

        :raises ClosedStorage: the backend was closed.
        """
        self._ensure_open()
        session = self._thread_session()
        if session is not None and session.in_transaction():
            if session.autoflush:
                session.flush()
            yield session.connection()
            return
        with self._engine.begin() as connection:
            yield connection

    @property
    def dialect_name(self) -> str:
        """Return the name of the database's SQLAlchemy dialect (``sqlite``, ``postgresql``), without connecting."""
        return self._engine.dialect.name

    def get_repository(self) -> AbstractRepositoryBackend:
        """Return the repository holding the files of this storage."""
        self._ensure_open()
        return self._repository

    def _clear(self) -> None:
        """Delete every row but the settings, and every repository object; the repository identity stays (tests)."""
        self._ensure_open()
        with self.transaction() as session:
            for table in reversed(tables.metadata.sorted_tables):
                if table is not tables.settings:
                    session.execute(table.delete())
        self.get_session().expunge_all()
        self._default_user = None
        keys = list(self._repository.list_objects())
        if keys:
            self._repository.delete_objects(keys)

    # ----------------------------------------------------------------------- collections
    def _collection(self, name: str) -> Any:
        self._ensure_open()
        collection = self._collections.get(name)
        if collection is None:
            from provstore_sql import entities

            collection = self._collections[name] = getattr(entities, _COLLECTIONS[name])(self)
        return collection

    @property
    def authinfos(self) -> Any:
        """Return the collection of authorisation infos."""
        return self._collection("authinfos")

    @property
    def comments(self) -> Any:
        """Return the collection of comments."""
        return self._collection("comments")

    @property
    def computers(self) -> Any:
        """Return the collection of computers."""
        return self._collection("computers")

    @property
    def groups(self) -> Any:
        """Return the collection of groups."""
        return self._collection("groups")

    @property
    def logs(self) -> Any:
        """Return the collection of logs."""
        return self._collection("logs")

    @property
    def nodes(self) -> Any:
        """Return the collection of nodes."""
        return self._collection("nodes")

    @property
    def users(self) -> Any:
        """Return the collection of users."""
        return self._collection("users")

    def query(self) -> Any:
        """Return a new query builder on this storage."""
        self._ensure_open()
        from provstore_sql.query import SqlQueryBuilder

        return SqlQueryBuilder(self)

    @property
    def default_user(self) -> Any:
        """Return the user entity of the profile's ``default_user_email`` (created on first use), or None."""
        self._ensure_open()
        email = self.profile.default_user_email
        if email is None:
            return None
        if self._default_user is None:
            self._default_user = self.users.get_or_create(email=email)
        return self._default_user

    # ---------------------------------------------------------------------- transactions
    @property
    def _depth(self) -> int:
        return getattr(self._local, "depth", 0)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """Open a transaction (outermost) or a savepoint (nested) and yield the session.

        The outermost level commits on success. An exception rolls back only its own level and is
        re-raised. Work done on the session outside any ``transaction()`` block (implicitly begun) is
        committed when the outermost block opens, so the block starts a fresh write transaction; on
        SQLite that transaction is ``BEGIN IMMEDIATE`` (writers queue up instead of failing).
        """
        session = self.get_session()
        depth = self._depth
        self._local.depth = depth + 1
        try:
            if depth:
                with session.begin_nested():
                    yield session
            else:
                with self._locked_database_is_profile_error():
                    if session.in_transaction():
                        session.commit()
                    transaction = session.begin()
                    try:
                        session.connection(execution_options={BEGIN_MODE_OPTION: "IMMEDIATE"})
                        yield session
                    except BaseException:
                        transaction.rollback()
                        raise
                    self._commit(transaction)
        finally:
            self._local.depth = depth

    def _commit(self, transaction: SessionTransaction) -> None:
        """Commit the outermost transaction; a constraint checked only now (deferred foreign key) is one line."""
        try:
            transaction.commit()
        except BaseException as exc:
            # whatever failed at commit (constraint, lost connection, lock timeout), the session must be
            # usable again: roll back so the next call does not meet a half-finished transaction
            with contextlib.suppress(Exception):
                transaction.rollback()
            if isinstance(exc, sa_exc.IntegrityError):
                reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else "constraint violated"
                raise IntegrityError(f"transaction rolled back at commit: {reason}") from exc
            raise

    @contextlib.contextmanager
    def _locked_database_is_profile_error(self) -> Iterator[None]:
        """Report SQLite's "database is locked" (another writer outlasted the busy timeout) as one clear line."""
        try:
            yield
        except sa_exc.OperationalError as exc:
            if "database is locked" not in str(exc.orig):
                raise
            raise LockedProfileError(
                f"the database of profile {self.profile.name!r} stayed locked by another process's write "
                "for longer than the busy timeout; try again, or raise `busy_timeout` in the storage config"
            ) from exc

    @property
    def in_transaction(self) -> bool:
        """Return whether the current thread is inside :meth:`transaction`."""
        self._ensure_open()
        return self._depth > 0

    # --------------------------------------------------------------------- bulk operations
    def bulk_insert(
        self, entity_type: EntityTypes, rows: Iterable[dict[str, Any]], allow_defaults: bool = False
    ) -> list[int]:
        """Insert rows (any iterable, consumed in chunks) in one transaction; return the new pks in input order.

        Keys are the table's column names (``metadata``, not ``metadata_``) without ``id``. At most
        :attr:`bulk_load_threshold` + :attr:`bulk_chunk_size` rows of the input are held at a time (the
        read-ahead below), then one chunk: memory does not grow with the row count.

        Bulk-load mode: a call first reads :attr:`bulk_load_threshold` rows ahead (and one chunk more). If
        more rows follow them and the table holds at most as many rows (the load at least doubles it), the
        whole call runs with the table's secondary indexes dropped (on PostgreSQL also its foreign keys, its
        unique constraints and its primary key, those two unless a foreign key depends on them), which are
        rebuilt from the database's own definitions at the end, in the same transaction (see
        :mod:`provstore_sql.bulk_load`); otherwise the question is asked again each time the count of rows
        inserted doubled, and from the first yes the rest of the call runs so.
        On PostgreSQL that holds an ACCESS EXCLUSIVE lock on the table, and on the tables its foreign keys
        reference, until the transaction commits: other sessions reading them wait, then see every row; if
        those locks cannot be had within :attr:`bulk_load_lock_timeout` seconds the call goes on row by row.
        On SQLite the write lock is held anyway and readers keep reading their snapshot. The result and the
        errors are the same in both modes; a duplicate key or dangling reference may only be found at the
        rebuild.

        :raises IntegrityError: a row has unknown or missing keys or violates a constraint; nothing is written.
        """
        table = table_for(entity_type)
        prepare = RowPreparer(table, allow_defaults)
        pks: list[int] = []
        with spaced_collections(), self._translate_errors(table), self.transaction() as session:
            connection = session.connection()
            chunks = batched(rows, self.bulk_chunk_size)
            head, ahead = self._read_ahead(chunks)
            load: BulkLoad | None = None
            try:
                next_check = 0  # rows inserted at which to ask (again), each time the load doubled; 0: decided
                if ahead and BulkLoad.holds_at_most(connection, table, ahead):  # nothing inserted yet
                    load = self._begin_bulk_load(connection, table)
                elif ahead:
                    next_check = 2 * ahead
                for chunk in itertools.chain(head, chunks):
                    if next_check and len(pks) >= next_check:  # asked only when more rows follow
                        next_check = 2 * len(pks)
                        if BulkLoad.holds_at_most(connection, table, 2 * len(pks)):  # rows inserted counted
                            load = self._begin_bulk_load(connection, table)
                            next_check = 0  # even if the switch could not be made now: no second wait
                    pks.extend(self._insert_chunk(connection, table, chunk, prepare))
            finally:
                self._local.bulk_load = None
            if load is not None:
                load.finish()
        return pks

    def _read_ahead(self, chunks: Iterator[list[Any]]) -> tuple[list[list[Any]], int]:
        """Read the chunks holding the first :attr:`bulk_load_threshold` rows, and the chunk after them if any.

        Returns the chunks read and, if a chunk follows the threshold, the count of rows before it (else 0):
        deciding on bulk-load mode before inserting anything spares those rows the index updates and, on
        PostgreSQL, the queued foreign-key checks (0.25 s of a million-link load).
        """
        head: list[list[Any]] = []
        held = 0
        for chunk in chunks:
            head.append(chunk)
            if held >= self.bulk_load_threshold:
                return head, held
            held += len(chunk)
        return head, 0

    def _begin_bulk_load(self, connection: Connection, table: Table) -> BulkLoad | None:
        """Switch ``table`` to bulk-load mode for the rest of this call (None: the switch cannot be made now)."""
        self._local.bulk_load = BulkLoad.begin(connection, table, self.bulk_load_lock_timeout)
        return self._local.bulk_load

    def _insert_chunk(
        self, connection: Connection, table: Table, rows: list[Mapping[str, Any]], prepare: RowPreparer
    ) -> list[int]:
        """Insert one chunk, rows completed by ``prepare``, with multi-row ``INSERT ... RETURNING id``; return pks.

        The pks come in input order. SQLite uses :func:`~provstore_sql.sqlite_insert.sqlite_insert_returning_ids`;
        other dialects SQLAlchemy's "insertmanyvalues" batching with ids sorted into parameter order.
        """
        rows = prepare.many(rows)
        if connection.dialect.name == "sqlite":
            return sqlite_insert_returning_ids(connection, table, rows)
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return list(connection.execute(statement, rows).scalars())

    def bulk_update(self, entity_type: EntityTypes, rows: Iterable[dict[str, Any]]) -> None:
        """Update rows, each holding ``id`` plus the columns to change, in one transaction.

        :raises IntegrityError: a row lacks ``id``, has unknown keys or violates a constraint; nothing is written.
        """
        table = table_for(entity_type)
        columns = frozenset(column.name for column in table.columns if not column.primary_key)
        with spaced_collections(), self._translate_errors(table), self.transaction() as session:
            connection = session.connection()
            index = 0
            for chunk in batched(rows, self.bulk_chunk_size):
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

    @contextlib.contextmanager
    def _translate_errors(self, table: Table) -> Iterator[None]:
        """Turn database errors of a bulk operation into one-line provstore errors."""
        try:
            yield
        except sa_exc.IntegrityError as exc:
            raise IntegrityError(f"{table.name}: {exc.orig}") from exc
        except sa_exc.StatementError as exc:
            if isinstance(exc.orig, (ValueError, TypeError)):
                raise ValidationError(f"{table.name}: invalid value: {exc.orig}") from exc
            raise

    def delete_nodes_and_connections(self, pks_to_delete: Sequence[int]) -> None:
        """Delete the nodes and their links, group memberships, comments and logs, in chunks.

        Nodes, comments and logs loaded in this thread's session are deleted through it first, as by
        ``collection.delete``, so entities still holding them report ``is_stored`` False (again True after
        a rollback); the rest goes in bulk DELETEs.

        :raises TransactionError: if called outside :meth:`transaction`.
        """
        if not self.in_transaction:
            raise TransactionError("delete_nodes_and_connections must be called inside `with storage.transaction():`")
        from provstore_sql.entities.deletion import delete_held_rows
        from provstore_sql.models import DbNode

        pks = list(pks_to_delete)
        session = self.get_session()
        delete_held_rows(session, DbNode, pks)
        connection = session.connection()
        for chunk in batched(pks, self.delete_chunk_size):
            self._delete_node_chunk(connection, chunk)

    def _delete_node_chunk(self, connection: Connection, pks: list[int]) -> None:
        """Delete one chunk of nodes and every row that references them."""
        link = tables.links
        connection.execute(delete(link).where(link.c.input_id.in_(pks)))
        connection.execute(delete(link).where(link.c.output_id.in_(pks)))
        for table in (tables.group_nodes, tables.comments, tables.logs):
            connection.execute(delete(table).where(table.c.dbnode_id.in_(pks)))
        node = tables.nodes
        connection.execute(delete(node).where(node.c.id.in_(pks)))

    # ------------------------------------------------------------------------- settings
    def get_global_variable(self, key: str) -> Any:
        """Return the value of a global variable.

        :raises NotExistent: (a KeyError) the variable does not exist.
        """
        setting = tables.settings
        with self.connection() as connection:
            row = connection.execute(select(setting.c.val).where(setting.c.key == key)).one_or_none()
        if row is None:
            raise NotExistent(f"no global variable {key!r}")
        return row.val

    def set_global_variable(self, key: str, value: Any, description: str | None = None, overwrite: bool = True) -> None:
        """Set a global variable (a JSON value).

        :raises ValueError: the key exists and ``overwrite`` is False.
        :raises ValidationError: the value cannot be stored as JSON (see :mod:`provstore.storage.json_values`).
        """
        from provstore_sql.models import DbSetting

        value = clean_json_value(value, f"global variable {key!r}")
        with self._translate_errors(tables.settings), self.transaction() as session:
            setting = session.scalars(select(DbSetting).where(DbSetting.key == key)).one_or_none()
            if setting is None:
                session.add(DbSetting(key=key, val=value, description=description or ""))
            elif not overwrite:
                raise ValueError(f"global variable {key!r} already exists")
            else:
                setting.val = value
                if description is not None:
                    setting.description = description
                setting.time = datetime.datetime.now(datetime.timezone.utc)

    # ---------------------------------------------------------------------- information
    def get_info(self, detailed: bool = False) -> dict[str, Any]:
        """Return the schema version, entity counts (by type when ``detailed``) and repository information."""
        counts = {
            "users": tables.users,
            "computers": tables.computers,
            "authinfos": tables.authinfos,
            "groups": tables.groups,
            "nodes": tables.nodes,
            "links": tables.links,
            "comments": tables.comments,
            "logs": tables.logs,
        }
        node, link = tables.nodes, tables.links
        with self.connection() as connection:
            entities: dict[str, Any] = {
                name: connection.scalar(select(func.count()).select_from(table)) for name, table in counts.items()
            }
            if detailed:
                entities["node_types"] = dict(
                    connection.execute(select(node.c.node_type, func.count()).group_by(node.c.node_type)).all()
                )
                entities["link_types"] = dict(
                    connection.execute(select(link.c.type, func.count()).group_by(link.c.type)).all()
                )
            schema_version = SqlMigrator(connection, self.profile.name).version()
        return {
            "backend": type(self).__name__,
            "schema_version": schema_version,
            "database": self._database_info(),
            "entities": entities,
            "repository": self.get_repository().get_info(detailed),
        }

    def _database_info(self) -> dict[str, Any]:
        """Return backend-specific facts about the database (never secrets); empty by default."""
        return {"dialect": self._engine.dialect.name}

    def get_unreferenced_keyset(self) -> set[str]:
        """Return the keys of repository objects that no node's ``repository_metadata`` references."""
        repository = self.get_repository()
        keys = set(repository.list_objects())
        if not keys:
            return keys
        referenced: set[str] = set()
        statement = select(tables.nodes.c.repository_metadata).execution_options(yield_per=1000)
        with self.connection() as connection:
            for (metadata,) in connection.execute(statement):
                _collect_keys(metadata or {}, referenced)
        return keys - referenced

    def maintain(self, full: bool = False, dry_run: bool = False, **kwargs: Any) -> dict[str, Any]:
        """Maintain repository and database; ``full`` also deletes unreferenced objects and repacks.

        Live maintenance (``full=False``) only runs operations that are safe while other processes
        use the profile. ``full=True`` holds the exclusive profile lock for its whole duration.

        :raises LockedProfileError: with ``full=True`` while another process uses the profile.
        """
        self._ensure_open()
        if not full:
            return {
                "repository": self._repository.maintain(dry_run=dry_run, live=True, **kwargs),
                "database": self._maintain_database(full=False, dry_run=dry_run),
            }
        self._end_implicit_transaction()  # before taking exclusive access
        with self._lock.exclusive():
            unreferenced = sorted(self.get_unreferenced_keyset())
            self._end_implicit_transaction()
            if unreferenced and not dry_run:
                self._repository.delete_objects(unreferenced)
            return {
                "unreferenced_objects": {"count": len(unreferenced), "deleted": not dry_run},
                "repository": self._repository.maintain(dry_run=dry_run, live=False, **kwargs),
                "database": self._maintain_database(full=True, dry_run=dry_run),
            }

    def _end_implicit_transaction(self) -> None:
        """Commit the transaction a read outside :meth:`transaction` began on this thread's session, if any."""
        session = self._thread_session()
        if session is not None:
            session.commit()

    def _maintain_database(self, full: bool, dry_run: bool) -> dict[str, Any]:
        """Run database housekeeping; the base refreshes the planner statistics (``ANALYZE``)."""
        if dry_run:
            return {"analyze": "would run"}
        with self._engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
            connection.commit()
        return {"analyze": "done"}


def _collect_keys(metadata: dict[str, Any], keys: set[str]) -> None:
    """Add the repository keys of a ``repository_metadata`` tree (``{"o": {name: {"k": key} | subtree}}``)."""
    stack = [metadata]
    while stack:
        node = stack.pop()
        key = node.get("k")
        if key is not None:
            keys.add(key)
        stack.extend(child for child in (node.get("o") or {}).values() if isinstance(child, dict))
