"""The ``core.sqlite_dos`` storage: an SQLite file and a disk-objectstore container in one folder.

The embedded default (``provstore presto``). The database runs in WAL mode with foreign keys on;
writing transactions begin with ``BEGIN IMMEDIATE`` and wait up to ``busy_timeout`` for each other,
so several processes can write without "database is locked" errors under normal load.

Opening only reads. A database on a read-only filesystem, or a file we may not write, opens read-only; on a
full disk, where SQLite cannot allocate the shared-memory index of the WAL, it opens with one connection in
exclusive locking mode (the index then lives in memory): both with a one-line warning. A write that finds
the disk full raises :class:`~provstore.exceptions.StorageFull` and leaves nothing of itself behind.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import urllib.parse
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from provstore.config import Profile
from provstore.config.paths import LocalPath
from provstore.exceptions import UnreachableStorage
from provstore_sql.backend import SqlStorageBackend
from provstore_sql.dialect import SqliteDialect
from provstore_sql.engine import (
    JSON_ENGINE_KWARGS,
    configure_sqlite_engine,
    free_bytes,
    is_disk_full,
    storage_full,
    translate_disk_full,
)
from provstore_sql.foreign import refuse_aiida_sqlite_file
from provstore_sql.locking import FileProfileLock, ProfileLock
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, create_engine
from sqlalchemy.dialects import sqlite as _sqlite_dialect  # noqa: F401  imported with the backend, not at first connect
from sqlalchemy.pool import QueuePool, StaticPool

if TYPE_CHECKING:
    from provstore.repository import AbstractRepositoryBackend
    from provstore_sql.migrator import SqlMigrator

__all__ = ["SqliteDosDialect", "SqliteDosStorage"]

DATABASE_FILENAME = "database.sqlite"
LOCK_FILENAME = "database.sqlite.lock"
CONTAINER_DIRNAME = "container"
_SHM_BYTES = 32768
"""Size of a ready WAL shared-memory index (``-shm``): one that exists at this size needs no allocation."""
_SHM_HEADROOM = 4 * _SHM_BYTES
"""Free bytes below which a missing (or partly allocated) ``-shm`` file may not be allocatable."""

_LOGGER = logging.getLogger(__name__)
_ENGINES: weakref.WeakKeyDictionary[Engine, tuple[str, str, Path]] = weakref.WeakKeyDictionary()
"""The :func:`open_mode`, profile name and database path each engine of this backend was made with."""


def open_mode(path: Path) -> str:
    """Return how the database file ``path`` can be opened: ``"rw"``, ``"ro"`` (read-only fs or file) or ``"full"``.

    ``"full"``: the disk has no room for the WAL's shared-memory index, so the index must live in memory
    (exclusive locking mode, one connection). Only reads the file system: nothing is created.
    """
    folder = path.parent
    try:
        read_only_fs = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        read_only_fs = False
    if read_only_fs or not os.access(path, os.W_OK) or not os.access(folder, os.W_OK):
        return "ro"
    shm = path.with_name(path.name + "-shm")
    try:
        shm_ready = shm.stat().st_size >= _SHM_BYTES
    except OSError:
        shm_ready = False
    free = free_bytes(folder)
    if not shm_ready and free is not None and free < _SHM_HEADROOM:
        return "full"
    return "rw"


def _has_wal_content(path: Path) -> bool:
    """Return whether the database's ``-wal`` file holds anything (frames not yet copied into the file)."""
    try:
        return path.with_name(path.name + "-wal").stat().st_size > 0
    except OSError:
        return False


def _settings(profile: Profile) -> SqliteDosStorage.Configuration:
    """Return the validated storage configuration (:class:`ConfigurationError` if invalid)."""
    return SqliteDosStorage.validated_config(profile)


class SqliteDosDialect(SqliteDialect):
    """An SQLite file in WAL mode in the storage folder, locked with ``flock`` on a file beside it."""

    @staticmethod
    def folder(profile: Profile) -> Path:
        """Return the storage folder of ``profile`` (absolute)."""
        return Path(_settings(profile).filepath).expanduser().resolve()

    def database_path(self, profile: Profile) -> Path:
        """Return the path of the profile's database file."""
        return self.folder(profile) / DATABASE_FILENAME

    def create_engine(self, profile: Profile, create: bool = False) -> Engine:
        """Return an engine on the database file; only ``create=True`` may create the file."""
        path = self.database_path(profile)
        timeout = _settings(profile).busy_timeout
        mode = "rw" if create else open_mode(path)
        query = {"rw": "rwc" if create else "rw", "ro": "ro", "full": "rw"}[mode]
        if mode == "ro" and not _has_wal_content(path) and os.statvfs(path.parent).f_flag & os.ST_RDONLY:
            query += "&immutable=1"  # nothing can change a file on a read-only filesystem: no -shm needed
        uri = f"file:{urllib.parse.quote(str(path))}?mode={query}"
        if mode != "rw":
            _LOGGER.warning(
                "profile %r: %s",
                profile.name,
                f"{path} is read-only: opened for reading only"
                if mode == "ro"
                else f"the disk holding {path} is full: opened with one exclusive connection until space is freed",
            )

        def connect() -> sqlite3.Connection:
            return sqlite3.connect(uri, uri=True, timeout=timeout, check_same_thread=False)

        engine = create_engine(
            "sqlite://",
            creator=connect,
            poolclass=QueuePool if mode == "rw" else StaticPool,
            **JSON_ENGINE_KWARGS,
        )
        _ENGINES[engine] = (mode, profile.name, path)
        # WAL (a lasting property of the file) is set when the file is created (create=True, only from initialise,
        # after the schema was recognised), else by open_schema once the schema is known: never on a foreign store
        pragmas = {
            # on a full disk the WAL index lives in memory: exclusive locking, set before the first read
            **({"locking_mode": "EXCLUSIVE"} if mode == "full" else {}),
            **({"journal_mode": "WAL"} if create else {}),
            "synchronous": "NORMAL",  # durable at checkpoints; WAL keeps the file consistent on a crash
            "foreign_keys": "ON",
            # 64 MiB page cache (allocated as used): big inserts update nine node indexes without
            # spilling pages mid-transaction, which the 2 MiB default does (bulk_insert 1.8x faster)
            "cache_size": -65536,
        }
        configure_sqlite_engine(engine, pragmas)
        translate_disk_full(engine, profile.name, f"the database {path}", path.parent)
        return engine

    def storage_exists(self, profile: Profile) -> bool:
        """Return whether the database file exists."""
        return self.database_path(profile).is_file()

    def open_schema(self, migrator: SqlMigrator, repository: AbstractRepositoryBackend) -> None:
        """Validate the schema (modifying nothing), then put the file in WAL mode (once; it stays so)."""
        super().open_schema(migrator, repository)
        if _ENGINES.get(migrator.connection.engine, ("rw",))[0] != "rw":
            return  # reading a read-only or full store changes nothing
        if migrator.connection.exec_driver_sql("PRAGMA journal_mode").scalar() != "wal":
            migrator.connection.exec_driver_sql("PRAGMA journal_mode=WAL")

    def profile_lock(self, profile: Profile) -> ProfileLock:
        """Lock with ``flock`` on a file beside the database."""
        return FileProfileLock(profile.name, self.folder(profile) / LOCK_FILENAME)

    def destroy_database(self, profile: Profile) -> None:
        """Delete the database file and its WAL files."""
        path = self.database_path(profile)
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)

    def database_info(self, engine: Engine, profile: Profile) -> dict[str, Any]:
        """Return the database path, size and journal mode."""
        path = self.database_path(profile)
        with engine.connect() as connection:
            journal_mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
        return {"dialect": "sqlite", "path": str(path), "size": path.stat().st_size, "journal_mode": journal_mode}

    def maintain_database(self, engine: Engine, full: bool, dry_run: bool) -> dict[str, Any]:
        """Live: ``PRAGMA optimize`` and a passive WAL checkpoint; full: also ``VACUUM`` and truncate the WAL."""
        actions = ["optimize", "wal_checkpoint(PASSIVE)"] if not full else ["optimize", "vacuum", "wal_checkpoint"]
        if dry_run:
            return {"would_run": actions}
        _, profile_name, path = _ENGINES[engine]
        free = free_bytes(path.parent)
        if full and free is not None and free < path.stat().st_size:  # VACUUM writes a copy of the database
            raise storage_full(profile_name, f"the database {path}", path.parent, path.stat().st_size - free)
        try:
            self._run_maintenance(engine, full)
        except sqlite3.Error as exc:
            if not is_disk_full(exc, path.parent):
                raise
            raise storage_full(profile_name, f"the database {path}", path.parent) from exc
        return {"done": actions}

    @staticmethod
    def _run_maintenance(engine: Engine, full: bool) -> None:
        """Run the maintenance statements on a driver connection in autocommit mode."""
        connection = engine.raw_connection()  # driver in autocommit mode: VACUUM must not run in a transaction
        try:
            cursor = connection.cursor()
            # ANALYZE reads, then writes its statistics: take the write lock first (waiting up to busy_timeout),
            # else a writer committing in between makes the upgrade fail at once with "database is locked"
            cursor.execute("BEGIN IMMEDIATE")
            cursor.execute("PRAGMA optimize")
            cursor.execute("COMMIT")
            if full:
                cursor.execute("VACUUM")
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            else:
                cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
            cursor.close()
        finally:
            connection.close()


class SqliteDosStorage(SqlStorageBackend):
    """Storage in one folder: ``database.sqlite`` (WAL mode) and a disk-objectstore ``container``."""

    class Configuration(BaseModel):
        """Settings of an SQLite + disk-objectstore storage."""

        model_config = ConfigDict(extra="forbid")

        filepath: LocalPath = Field(
            description="Folder holding the SQLite database and the disk-objectstore container (created if absent)."
        )
        busy_timeout: float = Field(
            default=60.0,
            gt=0,
            description="Seconds a transaction waits for another process's write to finish before failing.",
        )

    default_repository_backend: ClassVar[str | None] = "core.diskobjectstore"
    dialect = SqliteDosDialect()

    @classmethod
    def default_repository_config(cls, profile: Profile) -> dict[str, Any]:
        """Put the disk-objectstore container in the storage folder."""
        return {"filepath": str(SqliteDosDialect.folder(profile) / CONTAINER_DIRNAME)}

    # ------------------------------------------------------------------ schema management
    @classmethod
    def initialise(
        cls, profile: Profile, reset: bool = False, *, repository: AbstractRepositoryBackend | None = None
    ) -> bool:
        """Create the folder, the database at head and the container (see the base class)."""
        folder = SqliteDosDialect.folder(profile)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UnreachableStorage(f"profile {profile.name!r}: cannot create folder {folder}: {exc}") from exc
        return super().initialise(profile, reset=reset, repository=repository)

    @classmethod
    def delete_storage(cls, profile: Profile, *, repository: AbstractRepositoryBackend | None = None) -> None:
        """Delete the database and the container, then the storage folder itself if nothing else is in it.

        A folder that is already gone leaves only the repository to erase (if it lives elsewhere).
        """
        folder = SqliteDosDialect.folder(profile)
        repository = repository or cls.repository_for(profile)
        if not folder.is_dir():
            if repository.is_initialised:
                repository.erase()
            return
        super().delete_storage(profile, repository=repository)
        (folder / LOCK_FILENAME).unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            folder.rmdir()

    # ------------------------------------------------------------------------ lifecycle
    def __init__(self, profile: Profile, repository: AbstractRepositoryBackend | None = None) -> None:
        """Open the storage folder of ``profile``.

        :raises UnreachableStorage: the folder or its database file does not exist.
        """
        path = self.dialect.database_path(profile)
        if not path.is_file():
            raise UnreachableStorage(
                f"profile {profile.name!r}: no database at {path}; initialise the storage first "
                f"(`provstore -p {profile.name} storage init`)"
            )
        refuse_aiida_sqlite_file(path, profile.name)  # before the lock file and journal mode are written
        super().__init__(profile, repository)

    def __str__(self) -> str:
        return f"SqliteDosStorage[{SqliteDosDialect.folder(self.profile)}] for profile {self.profile.name!r}"
