"""The storage backend shared by every SQL database, composed of parts that each do one job.

- :class:`~provstore_sql.sessions.SessionManager`: the engine, one session per thread, transactions, forks;
- :class:`~provstore_sql.bulk.writer.BulkWriter`: ``bulk_insert`` (and its explicit load mode), ``bulk_update``,
  ``delete_nodes_and_connections``;
- :class:`~provstore_sql.schema.SchemaManager`: ``initialise``, ``migrate``, ``version_profile``, ``delete_storage``;
- :class:`~provstore_sql.maintenance.StorageMaintenance`: ``get_info``, ``maintain``, unreferenced objects.

A concrete backend (``core.sqlite_temp``, ``core.sqlite_dos``, ``core.psql_dos``, the archive storage) is a
subclass that declares its ``Configuration``, its ``default_repository_backend`` (with
:meth:`~provstore.storage.StorageBackend.default_repository_config`) and its ``dialect``, a
:class:`~provstore_sql.dialect.SqlDialect` saying what differs on its database; it overrides no private method.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import threading
import weakref
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from provstore.exceptions import ClosedStorage, ConfigurationError, NotExistent
from provstore.storage.abstract import StorageBackend
from provstore.storage.entity_types import EntityTypes
from provstore.storage.json_values import clean_json_value
from sqlalchemy import Connection, select

from provstore_sql import tables
from provstore_sql.bulk.writer import BulkWriter, translated_errors
from provstore_sql.dialect import SqlDialect
from provstore_sql.maintenance import StorageMaintenance
from provstore_sql.migrator import REPOSITORY_UUID_KEY, SqlMigrator
from provstore_sql.schema import SchemaManager
from provstore_sql.sessions import SessionManager

if TYPE_CHECKING:
    from provstore.config import Profile
    from provstore.repository import AbstractRepositoryBackend
    from sqlalchemy.orm import Session

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
        backend._after_fork_in_child()


os.register_at_fork(after_in_child=_reset_backends_after_fork)


class SqlStorageBackend(StorageBackend):
    """Storage backend on an SQL database through SQLAlchemy, with a thread-bound session per thread.

    A subclass declares ``Configuration``, ``default_repository_backend`` and ``dialect`` (an instance of a
    :class:`~provstore_sql.dialect.SqlDialect` subclass); it may override public methods (calling ``super()``),
    never a private one. Collaborators (entities, queries) use :meth:`get_session`, :meth:`transaction`,
    :attr:`in_transaction`, :meth:`connection`, :attr:`dialect_name`, :meth:`get_repository`,
    :attr:`default_user` and :attr:`profile`. Opening a storage, queries and reads of Core statements need
    no ORM: ``sqlalchemy.orm`` and the ORM classes of :mod:`provstore_sql.models` load with the first session.
    """

    dialect: SqlDialect
    """What differs on this backend's database (engine, lock, insert path, maintenance statements)."""

    # ------------------------------------------------------------------ configuration
    @classmethod
    def validated_config(cls, profile: Profile) -> Any:
        """Return the profile's storage configuration validated by ``Configuration``.

        :raises ConfigurationError: naming the invalid fields, never echoing their values.
        """
        from provstore.config import validate_backend_config

        try:
            return validate_backend_config(cls, profile.storage_config)
        except ConfigurationError as exc:
            raise ConfigurationError(f"profile {profile.name!r}: {exc}") from None

    # ------------------------------------------------------------------ schema management
    @classmethod
    def schema(cls, profile: Profile) -> SchemaManager:
        """Return the schema manager of the profile's database (nothing is opened until it is used)."""
        return SchemaManager(cls.dialect, profile)

    @classmethod
    def version_head(cls) -> str:
        """Return the head schema version of the SQL schema."""
        return SqlMigrator.version_head()

    @classmethod
    def version_profile(cls, profile: Profile) -> str | None:
        """Return the schema version of the profile's database, or None if it is empty or absent."""
        return cls.schema(profile).version()

    @classmethod
    def initialise(
        cls, profile: Profile, reset: bool = False, *, repository: AbstractRepositoryBackend | None = None
    ) -> bool:
        """Create the schema at head and the repository; return False if the storage was already initialised.

        With ``reset=True`` the database and repository are emptied first (needs exclusive use of the profile).
        ``repository`` is the profile's repository (None: :meth:`repository_for`).
        """
        return cls.schema(profile).initialise(repository or cls.repository_for(profile), reset=reset)

    can_delete_storage: ClassVar[bool] = True

    @classmethod
    def delete_storage(cls, profile: Profile, *, repository: AbstractRepositoryBackend | None = None) -> None:
        """Delete all of the profile's data, database and repository (``provstore profile delete``).

        :raises LockedProfileError: another process uses the profile.
        """
        cls.schema(profile).delete(repository or cls.repository_for(profile))

    @classmethod
    def migrate(cls, profile: Profile) -> None:
        """Migrate the profile's database to the head schema (exclusive use of the profile needed).

        :raises StorageMigrationError: the storage is not initialised.
        """
        cls.schema(profile).migrate()

    # ------------------------------------------------------------------------ lifecycle
    def __init__(
        self,
        profile: Profile,
        repository: AbstractRepositoryBackend | None = None,
        *,
        dialect: SqlDialect | None = None,
    ) -> None:
        """Open the profile's storage after making its schema usable (by default: validating version and repository).

        ``repository`` holds the files (None: :meth:`repository_for`); ``dialect`` replaces the class's for
        this storage (a private database opened in its own way, such as an archive's).
        """
        super().__init__(profile, repository)
        self.dialect = dialect = dialect or type(self).dialect
        self._closed = False
        self._lock = dialect.profile_lock(profile)
        try:
            self._lock.acquire_shared()
            self._engine = dialect.create_engine(profile)
            try:
                if repository is None:
                    repository = self.repository_for(profile)
                self._repository = repository
                SchemaManager(dialect, profile).open(self._engine, repository)
            except BaseException:
                self._engine.dispose()
                raise
        except BaseException:
            if repository is not None:
                repository.close()
            self._lock.release()
            raise
        self._sessions = SessionManager(self._engine, dialect, profile.name)
        self._writer = BulkWriter(self._sessions, dialect)
        self._maintenance = StorageMaintenance(self._sessions, dialect, profile, self._repository, self._lock)
        self._collections: dict[str, Any] = {}
        self._default_user: Any = None
        self._default_user_lock = threading.Lock()  # threads share one default user, made once
        _OPEN_BACKENDS.add(self)

    def _after_fork_in_child(self) -> None:
        """In a forked child: the dialect's connection handling, fresh sessions, and a profile lock of its own."""
        if self._closed:
            return
        self._sessions.after_fork_in_child()
        self._lock.reacquire_after_fork()
        self._default_user_lock = threading.Lock()  # another thread may have held it at the fork

    def close(self) -> None:
        """Close sessions, connections and the repository, and release the profile lock."""
        if self._closed:
            return
        self._closed = True
        _OPEN_BACKENDS.discard(self)
        self._sessions.close()
        self._repository.close()
        self._lock.release()

    @property
    def is_closed(self) -> bool:
        """Return whether :meth:`close` was called."""
        return self._closed

    def _ensure_open(self) -> None:
        if self._closed:
            raise ClosedStorage(f"the storage of profile {self.profile.name!r} is closed")

    # ------------------------------------------------------------------------ sessions
    def get_session(self) -> Session:
        """Return the SQLAlchemy session bound to the current thread (the first call imports the ORM).

        :raises ClosedStorage: the backend was closed.
        """
        self._ensure_open()
        return self._sessions.session()

    @contextlib.contextmanager
    def connection(self) -> Iterator[Connection]:
        """Yield a connection for Core statements that sees what this thread's session has written.

        Inside a transaction of the thread's session (:meth:`transaction`, or one a read began) this is the
        session's connection, with its pending ORM changes flushed first, and nothing is committed here.
        Otherwise the statements run in a short transaction of their own, committed on success.

        :raises ClosedStorage: the backend was closed.
        """
        self._ensure_open()
        with self._sessions.connection() as connection:
            yield connection

    @property
    def dialect_name(self) -> str:
        """Return the name of the database's SQLAlchemy dialect (``sqlite``, ``postgresql``), without connecting."""
        return self._engine.dialect.name

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """Open a transaction (outermost) or a savepoint (nested) and yield the session.

        The outermost level commits on success. An exception rolls back only its own level and is
        re-raised. Work done on the session outside any ``transaction()`` block (implicitly begun) is
        committed when the outermost block opens, so the block starts a fresh write transaction; on
        SQLite that transaction is ``BEGIN IMMEDIATE`` (writers queue up instead of failing).

        :raises ClosedStorage: the backend was closed.
        """
        self._ensure_open()
        with self._sessions.transaction() as session:
            yield session

    @property
    def in_transaction(self) -> bool:
        """Return whether the current thread is inside :meth:`transaction`."""
        self._ensure_open()
        return self._sessions.in_transaction

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
        user = self._default_user
        if user is None:
            with self._default_user_lock:  # threads racing here would each make (and cache) a user of their own
                user = self._default_user
                if user is None:
                    user = self._default_user = self.users.get_or_create(email=email)
        return user

    # --------------------------------------------------------------------- bulk operations
    def bulk_insert(
        self,
        entity_type: EntityTypes,
        rows: Iterable[dict[str, Any]],
        allow_defaults: bool = False,
        *,
        exclusive_load: bool = False,
    ) -> list[int]:
        """Insert rows (any iterable, consumed in chunks) in one transaction; return the new pks in input order.

        Keys are the table's column names (``metadata``, not ``metadata_``) without ``id``. The rows go in
        chunks of the dialect's ``bulk_chunk_size`` with every index and constraint maintained row by row,
        taking no lock beyond a normal write's: memory holds one chunk, whatever the row count.

        ``exclusive_load=True`` is for a caller that owns the target table for the duration of the call (a
        fresh store being filled by a transfer or an archive import, a private file). The call then reads
        ``bulk_load_threshold`` rows ahead (and one chunk more: at most that many rows are held). If more rows
        follow and the table holds at most as many rows (the load at least doubles it), the whole call runs in
        *load mode*: the table's secondary indexes are dropped (on PostgreSQL also its foreign keys, unique
        constraints and primary key, those two unless a foreign key depends on them) and rebuilt from the
        database's own definitions at the end, in the same transaction (:mod:`provstore_sql.bulk.load_mode`);
        otherwise the question is asked again each time the count of rows inserted doubled, and from the first
        yes the rest of the call runs so. Locking: on PostgreSQL load mode takes ACCESS EXCLUSIVE locks on the
        table and on the tables its foreign keys reference (for links, the nodes), held until the transaction
        commits: other sessions reading or writing them wait, then see every row; if those locks cannot be had
        within the dialect's ``bulk_load_lock_timeout`` seconds the call goes on row by row. On SQLite the
        write lock is held by every write anyway and readers keep reading their snapshot. The result and the
        errors are the same in both modes; a duplicate key or dangling reference may only be found at the rebuild.

        :raises IntegrityError: a row has unknown or missing keys or violates a constraint; nothing is written.
        :raises ValidationError: a value has the wrong type or cannot be stored; nothing is written.
        """
        self._ensure_open()
        return self._writer.insert(entity_type, rows, allow_defaults, exclusive_load=exclusive_load)

    def bulk_update(self, entity_type: EntityTypes, rows: Iterable[dict[str, Any]]) -> None:
        """Update rows, each holding ``id`` plus the columns to change, in one transaction.

        :raises IntegrityError: a row lacks ``id``, has unknown keys or violates a constraint; nothing is written.
        """
        self._ensure_open()
        self._writer.update(entity_type, rows)

    def delete_nodes_and_connections(self, pks_to_delete: Sequence[int]) -> None:
        """Delete the nodes and their links, group memberships, comments and logs, in chunks.

        Nodes, comments and logs loaded in this thread's session are deleted through it first, as by
        ``collection.delete``, so entities still holding them report ``is_stored`` False (again True after
        a rollback); the rest goes in bulk DELETEs.

        :raises TransactionError: if called outside :meth:`transaction`.
        """
        self._ensure_open()
        self._writer.delete_nodes(pks_to_delete)

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
        with translated_errors(tables.settings), self.transaction() as session:
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

    def iter_global_variables(self) -> Iterator[tuple[str, Any, str]]:
        """Yield ``(key, value, description)`` of each global variable but the repository's uuid, by age."""
        setting = tables.settings
        statement = (
            select(setting.c.key, setting.c.val, setting.c.description)
            .where(setting.c.key != REPOSITORY_UUID_KEY)
            .order_by(setting.c.id)
        )
        with self.connection() as connection:
            rows = connection.execute(statement).all()
        yield from ((key, value, description) for key, value, description in rows)

    # ---------------------------------------------------------------------- information
    def get_info(self, detailed: bool = False) -> dict[str, Any]:
        """Return the schema version, entity counts (by type when ``detailed``) and repository information."""
        self._ensure_open()
        return self._maintenance.info(type(self).__name__, detailed)

    def get_unreferenced_keyset(self) -> set[str]:
        """Return the keys of repository objects that no node's ``repository_metadata`` references."""
        self._ensure_open()
        return self._maintenance.unreferenced_keys()

    def maintain(self, full: bool = False, dry_run: bool = False, **kwargs: Any) -> dict[str, Any]:
        """Maintain repository and database; ``full`` also deletes unreferenced objects and repacks.

        Live maintenance (``full=False``) only runs operations that are safe while other processes
        use the profile. ``full=True`` holds the exclusive profile lock for its whole duration.

        :raises LockedProfileError: with ``full=True`` while another process uses the profile.
        """
        self._ensure_open()
        return self._maintenance.maintain(full=full, dry_run=dry_run, **kwargs)
