"""The ``acme.sqlitestore`` storage: the provenance graph in one SQLite file, its files in ``acme.sqliteblobs``.

A storage backend on SQL builds on ``provstore-sql``: :class:`~provstore_sql.backend.SqlStorageBackend` brings
the schema and its migrations, sessions and nested transactions, the entities, the bulk operations, the
query compiler, global variables and maintenance. What is particular to a backend goes in its *dialect*
(how to reach the database) and a few class attributes: the settings, where the files go by default.
"""

from __future__ import annotations

import sqlite3
import urllib.parse
from pathlib import Path
from typing import Any, ClassVar

import pydantic
from provstore.config import Profile
from provstore.exceptions import UnreachableStorage
from provstore.repository import AbstractRepositoryBackend
from provstore_sql.backend import SqlStorageBackend
from provstore_sql.dialect import SqliteDialect
from provstore_sql.engine import JSON_ENGINE_KWARGS, configure_sqlite_engine
from sqlalchemy import Engine, create_engine
from sqlalchemy.pool import QueuePool

__all__ = ["SqliteStore", "SqliteStoreDialect"]

DATABASE = "graph.sqlite"
BLOBS = "blobs.sqlite"


def folder(profile: Profile) -> Path:
    """Return the storage folder of ``profile`` (absolute)."""
    return Path(SqliteStore.validated_config(profile).filepath).expanduser().resolve()


class SqliteStoreDialect(SqliteDialect):
    """How to reach the database: an SQLite file in the storage folder (only ``create_engine`` is required)."""

    def create_engine(self, profile: Profile, create: bool = False) -> Engine:
        """Return an engine on the database file; only ``initialise`` (``create=True``) may create it."""
        path = folder(profile) / DATABASE
        timeout = SqliteStore.validated_config(profile).busy_timeout
        uri = f"file:{urllib.parse.quote(str(path))}?mode={'rwc' if create else 'rw'}"

        def connect() -> sqlite3.Connection:
            return sqlite3.connect(uri, uri=True, timeout=timeout, check_same_thread=False)

        engine = create_engine("sqlite://", creator=connect, poolclass=QueuePool, **JSON_ENGINE_KWARGS)
        configure_sqlite_engine(engine, {"journal_mode": "WAL", "foreign_keys": "ON"})
        return engine

    def storage_exists(self, profile: Profile) -> bool:
        return (folder(profile) / DATABASE).is_file()

    def destroy_database(self, profile: Profile) -> None:
        for suffix in ("", "-wal", "-shm"):
            (folder(profile) / (DATABASE + suffix)).unlink(missing_ok=True)


class SqliteStore(SqlStorageBackend):
    """A folder holding ``graph.sqlite`` (the graph) and, by default, ``blobs.sqlite`` (its files)."""

    class Configuration(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid")

        filepath: str = pydantic.Field(description="Folder of the storage (created by initialise).")
        busy_timeout: float = pydantic.Field(
            default=30.0, gt=0, description="Seconds to wait for another process's write before failing."
        )

    default_repository_backend: ClassVar[str | None] = "acme.sqliteblobs"
    dialect = SqliteStoreDialect()

    @classmethod
    def default_repository_config(cls, profile: Profile) -> dict[str, Any]:
        """Keep the files in ``blobs.sqlite`` beside the graph unless the profile names a repository."""
        return {"filepath": str(folder(profile) / BLOBS)}

    @classmethod
    def initialise(
        cls, profile: Profile, reset: bool = False, *, repository: AbstractRepositoryBackend | None = None
    ) -> bool:
        """Create the folder, then the schema at head (see the base class)."""
        folder(profile).mkdir(parents=True, exist_ok=True)
        return super().initialise(profile, reset=reset, repository=repository)

    def __init__(self, profile: Profile, repository: AbstractRepositoryBackend | None = None) -> None:
        """Open the storage; :class:`UnreachableStorage` (one line) when it was never initialised."""
        if not self.dialect.storage_exists(profile):
            raise UnreachableStorage(f"profile {profile.name!r}: no storage in {folder(profile)}; initialise it")
        super().__init__(profile, repository)
