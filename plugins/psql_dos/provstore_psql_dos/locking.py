"""The profile lock of ``core.psql_dos``: a PostgreSQL advisory lock in the profile's database.

Every open backend holds the lock in shared mode on a dedicated connection; exclusive use (full
maintenance, migration, reset) needs it in exclusive mode, which ``pg_try_advisory_lock`` grants
only when no other session holds it. Advisory locks belong to the database, so the key only has to
be unique among provstore's locks, and the server releases them when a session ends, even when its
process was killed.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from provstore.exceptions import ProvstoreError
from provstore_sql.locking import ProfileLock

from provstore_psql_dos.connection import MissingDatabase, connect

if TYPE_CHECKING:
    from provstore_psql_dos.backend import PsqlDosBackend

__all__ = ["LOCK_KEY", "AdvisoryProfileLock"]

LOCK_KEY = int.from_bytes(hashlib.sha256(b"provstore.profile").digest()[:8], "big", signed=True)
"""The 64-bit advisory lock key of a provstore profile (advisory locks are scoped to the database)."""

_LOGGER = logging.getLogger(__name__)


class AdvisoryProfileLock(ProfileLock):
    """Reader/writer lock on a profile's PostgreSQL database, held on a connection of its own."""

    def __init__(self, profile_name: str, config: PsqlDosBackend.Configuration) -> None:
        super().__init__(profile_name)
        self._config = config
        self._connection: Any = None
        self._shared = False
        self._pid = os.getpid()

    def _query(self, sql: str) -> Any:
        """Run one lock function on the lock connection (opened on first use) and return its value."""
        if self._connection is None:
            self._connection = connect(self._config)
        with self._connection.cursor() as cursor:
            cursor.execute(sql, (LOCK_KEY,))
            return cursor.fetchone()[0]

    def acquire_shared(self) -> None:
        """Take the shared lock without waiting.

        :raises LockedProfileError: another process holds it exclusively (full maintenance, migration).
        :raises UnreachableStorage: the database cannot be reached.
        """
        if self._shared:
            return
        if not self._query("SELECT pg_try_advisory_lock_shared(%s)"):
            self.release()
            raise self._locked_error("open it while it is being maintained or migrated")
        self._shared = True

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the exclusive lock for the block; a database that does not exist yet needs no lock.

        :raises LockedProfileError: another session holds the lock, shared or exclusive.
        """
        try:
            granted = self._query("SELECT pg_try_advisory_lock(%s)")
        except MissingDatabase:
            yield  # nobody can be using a database that does not exist (initialise creates it)
            return
        if not granted:
            raise self._locked_error("get exclusive access")
        try:
            yield
        finally:
            with contextlib.suppress(ProvstoreError, OSError):
                self._query("SELECT pg_advisory_unlock(%s)")
            if not self._shared:
                self.release()

    def release(self) -> None:
        """Close the lock connection, which releases every lock it holds; safe to call twice."""
        connection, self._connection = self._connection, None
        self._shared = False
        if connection is not None and self._pid == os.getpid():
            with contextlib.suppress(Exception):
                connection.close()

    def reacquire_after_fork(self) -> None:
        """In a forked child: drop the parent's lock connection (already detached) and take a shared lock of our own."""
        was_shared = self._shared
        self._connection = None  # the parent's socket; detach_inherited_connections made it harmless
        self._shared = False
        self._pid = os.getpid()
        if was_shared:
            try:
                self.acquire_shared()
            except ProvstoreError as exc:
                _LOGGER.warning("forked process could not take the profile lock of %r: %s", self.profile_name, exc)
