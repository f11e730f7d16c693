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
from provstore_sql.engine import JSON_ENGINE_KWARGS, configure_sqlite_engine
from provstore_sql.migrator import SqlMigrator

__all__ = ["ArchiveStorage"]


class ArchiveStorage(SqlStorageBackend):
    """An SQL storage on a private SQLite file (being written into an archive, or extracted from one).

    With ``create=True`` the schema is created in the (new) file; otherwise an older schema is migrated
    in place (the file is a private extracted copy) and then validated like any storage.
    """

    cli_exposed = False

    def __init__(self, database: Path, repository: AbstractRepositoryBackend, label: str, create: bool = False) -> None:
        """Open the database file ``database`` with ``repository`` holding its objects; ``label`` names the archive."""
        self._archive_repository = repository
        self._create = create
        config = {"filepath": str(database)}
        profile = Profile(f"archive {label}", {"storage": {"backend": "provstore.archive", "config": config}})
        super().__init__(profile)

    @classmethod
    def _create_engine(cls, profile: Profile, create: bool = False) -> Engine:
        """Return an engine on the database file (one connection, foreign keys enforced)."""
        path = Path(profile.storage_config["filepath"])
        uri = f"file:{urllib.parse.quote(str(path))}?mode=rwc"

        def connect() -> sqlite3.Connection:
            return sqlite3.connect(uri, uri=True, check_same_thread=False)

        engine = create_engine("sqlite://", creator=connect, poolclass=StaticPool, **JSON_ENGINE_KWARGS)
        configure_sqlite_engine(engine, {"foreign_keys": "ON"})
        return engine

    def _build_repository(self, profile: Profile) -> AbstractRepositoryBackend:  # type: ignore[override]
        """Return the repository given to the constructor (an archive's repository is not configured by name)."""
        return self._archive_repository

    def _prepare_storage(self) -> None:
        """Create the schema (``create``), or bring an extracted copy to the head schema, then validate it."""
        with SqlMigrator.connect(self._engine, self.profile.name) as migrator:
            if self._create:
                migrator.initialise(self._archive_repository.uuid)
            elif migrator.version() in SqlMigrator.versions() and migrator.version() != SqlMigrator.version_head():
                migrator.migrate()
            migrator.validate(self._archive_repository.uuid)

    def _database_info(self) -> dict[str, Any]:
        return {"dialect": "sqlite", "path": self.profile.storage_config["filepath"]}
