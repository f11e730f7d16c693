"""The storage of an archive: its SQLite database file (the provstore schema) plus its zip repository."""

from __future__ import annotations

import sqlite3
import urllib.parse
from pathlib import Path
from typing import Any

from provstore.config import Profile
from provstore.repository.abstract import AbstractRepositoryBackend
from sqlalchemy import Engine, create_engine
from sqlalchemy.pool import StaticPool

from provstore_sql.backend import SqlStorageBackend
from provstore_sql.dialect import SqliteDialect
from provstore_sql.engine import JSON_ENGINE_KWARGS, configure_sqlite_engine
from provstore_sql.migrator import SqlMigrator

__all__ = ["ArchiveDialect", "ArchiveStorage"]


class ArchiveDialect(SqliteDialect):
    """A private SQLite file: created at head (``create``), or an extracted copy migrated in place then validated."""

    def __init__(self, create: bool = False) -> None:
        self.create = create

    def create_engine(self, profile: Profile, create: bool = False) -> Engine:
        """Return an engine on the database file (one connection, foreign keys enforced)."""
        path = Path(profile.storage_config["filepath"])
        uri = f"file:{urllib.parse.quote(str(path))}?mode=rwc"

        def connect() -> sqlite3.Connection:
            return sqlite3.connect(uri, uri=True, check_same_thread=False)

        engine = create_engine("sqlite://", creator=connect, poolclass=StaticPool, **JSON_ENGINE_KWARGS)
        configure_sqlite_engine(engine, {"foreign_keys": "ON"})
        return engine

    def open_schema(self, migrator: SqlMigrator, repository: AbstractRepositoryBackend) -> None:
        """Create the schema (``create``), or bring an extracted copy to the head schema, then validate it."""
        if self.create:
            migrator.initialise(repository.uuid)
        elif migrator.version() in SqlMigrator.versions() and migrator.version() != SqlMigrator.version_head():
            migrator.migrate()
        migrator.validate(repository.uuid)

    def database_info(self, engine: Engine, profile: Profile) -> dict[str, Any]:
        """Return the dialect and the path of the file."""
        return {"dialect": "sqlite", "path": profile.storage_config["filepath"]}


class ArchiveStorage(SqlStorageBackend):
    """An SQL storage on a private SQLite file (being written into an archive, or extracted from one).

    With ``create=True`` the schema is created in the (new) file; otherwise an older schema is migrated
    in place (the file is a private extracted copy) and then validated like any storage.
    """

    cli_exposed = False
    dialect = ArchiveDialect()

    def __init__(self, database: Path, repository: AbstractRepositoryBackend, label: str, create: bool = False) -> None:
        """Open the database file ``database`` with ``repository`` holding its objects; ``label`` names the archive."""
        config = {"filepath": str(database)}
        profile = Profile(f"archive {label}", {"storage": {"backend": "provstore.archive", "config": config}})
        super().__init__(profile, repository, dialect=ArchiveDialect(create=create))
