"""Sessions and transactions of an SQL storage: one SQLAlchemy session per thread, nested savepoints, forks.

:class:`SessionManager` owns the engine of one open storage. Opening a storage, queries and reads of Core
statements need no ORM: ``sqlalchemy.orm`` is imported by the first :meth:`SessionManager.session`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

from provstore.exceptions import IntegrityError
from sqlalchemy import Connection, Engine
from sqlalchemy import exc as sa_exc

from provstore_sql.engine import BEGIN_MODE_OPTION, database_locked, is_database_locked, is_disk_full, storage_full

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, SessionTransaction, scoped_session

    from provstore_sql.dialect import SqlDialect

__all__ = ["SessionManager"]


class SessionManager:
    """The engine of one storage, its thread-bound sessions and the transactions opened on them."""

    def __init__(self, engine: Engine, dialect: SqlDialect, profile_name: str) -> None:
        """Manage sessions on ``engine``; ``profile_name`` names the profile in error messages."""
        self.engine = engine
        self.dialect = dialect
        self.profile_name = profile_name
        self._factory: scoped_session[Session] | None = None  # made by the first session()
        self._factory_lock = threading.Lock()
        self._local = threading.local()

    # ------------------------------------------------------------------ sessions
    def session(self) -> Session:
        """Return the session bound to the current thread (the first call imports the ORM)."""
        factory = self._factory
        if factory is None:
            with self._factory_lock:
                if self._factory is None:
                    self._factory = self._make_factory()
                factory = self._factory
        return factory()

    def _make_factory(self) -> scoped_session[Session]:
        """Return the thread-bound session registry; loaded values survive commits (no reload per attribute)."""
        from sqlalchemy.orm import scoped_session, sessionmaker

        return scoped_session(sessionmaker(bind=self.engine, expire_on_commit=False))

    def thread_session(self) -> Session | None:
        """Return the session of the current thread if it has one, without making one."""
        factory = self._factory
        return factory() if factory is not None and factory.registry.has() else None

    @contextlib.contextmanager
    def connection(self) -> Iterator[Connection]:
        """Yield a connection for Core statements that sees what this thread's session has written.

        Inside a transaction of the thread's session this is the session's connection, with its pending ORM
        changes flushed first as the session's own autoflush would, and nothing is committed here. Otherwise
        the statements run in a short transaction on a connection of the engine, committed on success.
        """
        session = self.thread_session()
        if session is not None and session.in_transaction():
            if session.autoflush:
                session.flush()
            yield session.connection()
            return
        with self.engine.begin() as connection:
            yield connection

    def end_implicit_transaction(self) -> None:
        """Commit the transaction a read outside :meth:`transaction` began on this thread's session, if any."""
        session = self.thread_session()
        if session is not None:
            session.commit()

    def release_thread_connection(self) -> None:
        """Give back the connection this thread's session holds, unless it is inside :meth:`transaction`."""
        session = self.thread_session()
        if session is not None and not self.in_transaction:
            session.close()

    # ------------------------------------------------------------------ transactions
    @property
    def in_transaction(self) -> bool:
        """Return whether the current thread is inside :meth:`transaction`."""
        return getattr(self._local, "depth", 0) > 0

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """Yield the session in a transaction (outermost, committed on success) or a savepoint (nested).

        See :meth:`SqlStorageBackend.transaction <provstore_sql.backend.SqlStorageBackend.transaction>`: an
        implicit transaction is committed first, and SQLite's outermost level begins ``IMMEDIATE``.
        """
        session = self.session()
        depth = getattr(self._local, "depth", 0)
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

    @staticmethod
    def _commit(transaction: SessionTransaction) -> None:
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
        """Report SQLite's "database is locked" (another writer outlasted the busy timeout) as one clear line.

        A full disk met by a driver call that bypasses the engine's error hook (PostgreSQL's ``COPY`` on the
        raw connection) becomes :class:`~provstore.exceptions.StorageFull` here too.
        """
        try:
            yield
        except Exception as exc:
            driver_error = exc.orig if isinstance(exc, sa_exc.DBAPIError) else exc
            if (isinstance(exc, sa_exc.DBAPIError) or hasattr(exc, "pgcode")) and is_disk_full(driver_error):
                raise storage_full(self.profile_name, "its database") from exc
            if not is_database_locked(exc):
                raise
            raise database_locked(self.profile_name) from exc

    # ------------------------------------------------------------------ lifecycle
    def after_fork_in_child(self) -> None:
        """In a forked child: let the dialect decide about the parent's connections; forget its sessions."""
        keeps = self.dialect.after_fork_in_child(self.engine)
        self._factory = self._make_factory() if keeps and self._factory is not None else None
        self._factory_lock = threading.Lock()
        self._local = threading.local()

    def close(self) -> None:
        """Close every thread's session and the engine's connections."""
        if self._factory is not None:
            self._factory.remove()
        self.engine.dispose()
