"""Schema management of an SQL storage, without opening it: initialise, migrate, version, delete.

:class:`SchemaManager` works on one profile through its backend's dialect (engine, lock, whether the
database exists, how to destroy it); every operation that changes the schema holds the exclusive profile lock.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from provstore.exceptions import IncompatibleStorageSchema, StorageError, StorageMigrationError

from provstore_sql.migrator import SqlMigrator

if TYPE_CHECKING:
    from provstore.config import Profile
    from provstore.repository import AbstractRepositoryBackend
    from sqlalchemy import Engine

    from provstore_sql.dialect import SqlDialect

__all__ = ["SchemaManager"]


class SchemaManager:
    """The schema of one profile's database, managed through the backend's dialect."""

    def __init__(self, dialect: SqlDialect, profile: Profile) -> None:
        self.dialect = dialect
        self.profile = profile

    @contextlib.contextmanager
    def migrator(self, create: bool = False) -> Iterator[SqlMigrator]:
        """Yield a migrator on a fresh connection to the database (``create``: may create it), disposing after."""
        engine = self.dialect.create_engine(self.profile, create=create)
        try:
            with SqlMigrator.connect(engine, self.profile.name) as migrator:
                yield migrator
        finally:
            engine.dispose()

    def open(self, engine: Engine, repository: AbstractRepositoryBackend) -> None:
        """Make the schema of an opening storage usable, as its dialect says (default: validate only)."""
        with SqlMigrator.connect(engine, self.profile.name) as migrator:
            self.dialect.open_schema(migrator, repository)

    def version(self) -> str | None:
        """Return the schema version of the database, or None if it is empty or absent."""
        if not self.dialect.storage_exists(self.profile):
            return None
        with self.migrator() as migrator:
            return migrator.version()

    def initialise(self, repository: AbstractRepositoryBackend, reset: bool = False) -> bool:
        """Create the schema at head and the repository; return False if the storage was already initialised.

        With ``reset=True`` the database and repository are emptied first (needs exclusive use of the profile).
        """
        try:
            self.version()  # recognise the schema before the lock writes anything: never reset an aiida-core store
        except IncompatibleStorageSchema:
            raise
        except StorageError:
            if not reset:  # a damaged store may be reset
                raise
        lock = self.dialect.profile_lock(self.profile)
        try:
            with lock.exclusive():
                if reset:
                    self._destroy_database()
                    if repository.is_initialised:
                        repository.erase()
                with self.migrator(create=True) as migrator:
                    if migrator.version() is not None:
                        return False
                    repository.initialise()
                    migrator.initialise(repository.uuid)
                return True
        finally:
            lock.release()

    def delete(self, repository: AbstractRepositoryBackend) -> None:
        """Delete the database and the repository.

        :raises LockedProfileError: another process uses the profile.
        """
        lock = self.dialect.profile_lock(self.profile)
        try:
            with lock.exclusive():
                self._destroy_database()
                if repository.is_initialised:
                    repository.erase()
        finally:
            lock.release()

    def migrate(self) -> None:
        """Migrate the database to the head schema (exclusive use of the profile needed).

        :raises StorageMigrationError: the storage is not initialised.
        """
        if not self.dialect.storage_exists(self.profile):
            raise StorageMigrationError(
                f"the storage of profile {self.profile.name!r} is not initialised: nothing to migrate "
                f"(initialise it with `provstore -p {self.profile.name} storage init`)"
            )
        self.version()  # recognise the schema (e.g. an aiida-core store) before the lock writes anything
        lock = self.dialect.profile_lock(self.profile)
        try:
            with lock.exclusive(), self.migrator() as migrator:
                migrator.migrate()
        finally:
            lock.release()

    def _destroy_database(self) -> None:
        """Let the dialect remove the database, if it exists."""
        if self.dialect.storage_exists(self.profile):
            self.dialect.destroy_database(self.profile)
