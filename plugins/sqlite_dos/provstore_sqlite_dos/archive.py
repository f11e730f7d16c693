"""The ``core.sqlite_archive`` storage: the SQLite database of an archive, with the archive's zip as repository.

:mod:`provstore.archive` resolves it by name and hands it the repository (the zip file being written or
read); it is not offered by ``provstore profile setup``. The file is private to one archive operation:
it is created by :meth:`~SqliteArchiveStorage.initialise`, or is a copy extracted from an archive, which
is migrated in place when it was written by an older schema.
"""

from __future__ import annotations

import sqlite3
import urllib.parse
from pathlib import Path
from typing import Any

from provstore.config import Profile
from provstore.repository import AbstractRepositoryBackend
from provstore_sql.backend import SqlStorageBackend
from provstore_sql.dialect import SqliteDialect
from provstore_sql.engine import JSON_ENGINE_KWARGS, configure_sqlite_engine, translate_disk_full
from provstore_sql.migrator import SqlMigrator
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, create_engine
from sqlalchemy.pool import StaticPool

__all__ = ["SqliteArchiveDialect", "SqliteArchiveStorage"]


def _database_path(profile: Profile) -> Path:
    return Path(SqliteArchiveStorage.validated_config(profile).filepath)


class SqliteArchiveDialect(SqliteDialect):
    """A private SQLite file: one connection, foreign keys enforced, an older schema migrated in place on open."""

    def create_engine(self, profile: Profile, create: bool = False) -> Engine:
        """Return an engine on the database file (created only by ``initialise``)."""
        uri = f"file:{urllib.parse.quote(str(_database_path(profile)))}?mode={'rwc' if create else 'rw'}"

        def connect() -> sqlite3.Connection:
            return sqlite3.connect(uri, uri=True, check_same_thread=False)

        engine = create_engine("sqlite://", creator=connect, poolclass=StaticPool, **JSON_ENGINE_KWARGS)
        configure_sqlite_engine(engine, {"foreign_keys": "ON"})
        path = _database_path(profile)
        translate_disk_full(engine, profile.name, f"the archive database {path}", path.parent)
        return engine

    def storage_exists(self, profile: Profile) -> bool:
        """Return whether the database file exists."""
        return _database_path(profile).is_file()

    def open_schema(self, migrator: SqlMigrator, repository: AbstractRepositoryBackend) -> None:
        """Bring a copy written by an older schema to the head schema (the file is private), then validate it."""
        version = migrator.version()
        if version in SqlMigrator.versions() and version != SqlMigrator.version_head():
            migrator.migrate()
        migrator.validate(repository.uuid)

    def database_info(self, engine: Engine, profile: Profile) -> dict[str, Any]:
        """Return the dialect and the path of the file."""
        return {"dialect": "sqlite", "path": str(_database_path(profile))}


class SqliteArchiveStorage(SqlStorageBackend):
    """An SQL storage on a private SQLite file whose repository (the archive's zip) the caller always gives."""

    class Configuration(BaseModel):
        """Settings of an archive's database."""

        model_config = ConfigDict(extra="forbid")

        filepath: str = Field(description="Path of the SQLite database file (created by initialise).")

    cli_exposed = False
    dialect = SqliteArchiveDialect()
