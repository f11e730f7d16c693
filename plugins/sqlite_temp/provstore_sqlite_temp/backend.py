"""The ``core.sqlite_temp`` storage: a fresh in-memory SQLite database and sandbox repository per instance.

Meant for tests and demonstrations: nothing survives :meth:`SqliteTempBackend.close` (or garbage collection).
The repository uses SHA-256 keys, the same as ``core.diskobjectstore``, so data can move between them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from provstore.config import Profile
from provstore.repository import AbstractRepositoryBackend
from provstore_sql.backend import SqlStorageBackend
from provstore_sql.dialect import SqliteDialect
from provstore_sql.engine import JSON_ENGINE_KWARGS, configure_sqlite_engine
from provstore_sql.migrator import SqlMigrator
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, create_engine
from sqlalchemy.dialects import sqlite as _sqlite_dialect  # noqa: F401  imported with the backend, not at first connect
from sqlalchemy.pool import StaticPool

if TYPE_CHECKING:
    from provstore.repository import AbstractRepositoryBackend

__all__ = ["SqliteTempBackend", "SqliteTempDialect"]


class SqliteTempDialect(SqliteDialect):
    """A private in-memory SQLite database per storage, created at head when the storage opens."""

    def create_engine(self, profile: Profile, create: bool = False) -> Engine:
        """Return an engine on a new private in-memory database: one connection shared by every thread."""
        engine = create_engine(
            "sqlite://",
            poolclass=StaticPool,
            connect_args={"check_same_thread": False},
            echo=SqliteTempBackend.validated_config(profile).debug,
            **JSON_ENGINE_KWARGS,
        )
        configure_sqlite_engine(engine, {"foreign_keys": "ON"})
        return engine

    def open_schema(self, migrator: SqlMigrator, repository: AbstractRepositoryBackend) -> None:
        """Create the schema and the repository of this fresh instance."""
        repository.initialise()
        migrator.initialise(repository.uuid)

    def after_fork_in_child(self, engine: Engine) -> bool:
        """Keep the inherited connection in a forked child: it is the child's own copy of the in-memory data."""
        connection = engine.raw_connection()
        try:
            connection.driver_connection.rollback()  # end the parent's open transaction in the child's copy
        finally:
            connection.close()
        return True


class SqliteTempBackend(SqlStorageBackend):
    """A temporary storage: in-memory SQLite plus a sandbox repository, created fresh on every instantiation."""

    class Configuration(BaseModel):
        """Settings of a temporary storage."""

        model_config = ConfigDict(extra="forbid")

        filepath: str | None = Field(
            default=None,
            title="Temporary directory",
            description="Folder in which the sandbox repository's temporary folder is created "
            "(default: the system temporary folder).",
        )
        debug: bool = Field(default=False, description="Log every SQL statement (SQLAlchemy echo).")

    cli_exposed: ClassVar[bool] = False
    default_repository_backend: ClassVar[str | None] = "core.sandbox"
    dialect = SqliteTempDialect()

    @staticmethod
    def create_profile(
        name: str = "temp",
        default_user_email: str = "user@email.com",
        options: dict[str, Any] | None = None,
        debug: bool = False,
        filepath: str | Path | None = None,
    ) -> Profile:
        """Return a profile for a temporary storage (not saved in the configuration file)."""
        config: dict[str, Any] = {"debug": debug}
        if filepath is not None:
            config["filepath"] = str(filepath)
        return Profile(
            name,
            {
                "storage": {"backend": "core.sqlite_temp", "config": config},
                "default_user_email": default_user_email,
                "options": dict(options or {}),
            },
        )

    @classmethod
    def default_repository_config(cls, profile: Profile) -> dict[str, Any]:
        """Use a sandbox with SHA-256 keys inside the configured folder."""
        return {"filepath": cls.validated_config(profile).filepath, "key_format": "sha256"}

    # ------------------------------------------------------------------ schema management
    @classmethod
    def version_profile(cls, profile: Profile) -> str | None:
        """Return the head version: every instance creates its database at head."""
        return cls.version_head()

    @classmethod
    def initialise(
        cls, profile: Profile, reset: bool = False, *, repository: AbstractRepositoryBackend | None = None
    ) -> bool:
        """Return False: there is nothing persistent to create, every instance initialises itself."""
        return False

    @classmethod
    def migrate(cls, profile: Profile) -> None:
        """Do nothing: every instance is created at the head schema."""

    # ------------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Close the storage and delete its data: the in-memory database and the sandbox folder."""
        if self.is_closed:
            return
        repository = self.get_repository()
        super().close()
        repository.erase()

    def __str__(self) -> str:
        return f"SqliteTempBackend (in-memory) for profile {self.profile.name!r}"
