"""Read-only storage backends over aiida-core 2.x stores: an aiida ``core.sqlite_dos`` folder and an aiida
``core.psql_dos`` database with its container.

aiida-core's tables have provstore's names and columns (``SCHEMA.md``), so the SQL layer of provstore-sql
reads them as they are; what differs is how they are opened. The SQLite file is opened with ``mode=ro``
and ``query_only``, PostgreSQL sessions with ``default_transaction_read_only``, and no profile lock file,
journal mode, setting or table is ever written. PostgreSQL's native ``uuid`` columns are provstore's own
column type there too, read back as ``str``. Every writing method raises :class:`ReadOnlyStorage`.
"""

from __future__ import annotations

import sqlite3
import urllib.parse
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from provstore.config import Profile
from provstore.exceptions import StorageError, StorageMigrationError, UnreachableStorage
from provstore.storage.entity_types import EntityTypes
from provstore_sql.backend import SqlStorageBackend
from provstore_sql.dialect import SqlDialect, SqliteDialect
from provstore_sql.engine import JSON_ENGINE_KWARGS, configure_sqlite_engine
from provstore_sql.foreign import AIIDA_READABLE_REVISIONS
from provstore_sql.migrator import SqlMigrator
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from provstore_aiida.schema import check_readable, check_repository, read_revision

if TYPE_CHECKING:
    from provstore.repository import AbstractRepositoryBackend

__all__ = ["AiidaPsqlDosStorage", "AiidaSqliteDosStorage", "ReadOnlyStorage"]

AIIDA_HEAD = "main_0002"
"""The schema revision of aiida-core 2.9 stores."""


class ReadOnlyStorage(StorageError):
    """A write was asked of a storage that is only read (an aiida-core store opened in place)."""


def sqlite_read_only_engine(path: Path) -> Engine:
    """Return an engine that opens the SQLite file ``path`` read-only (``mode=ro``, ``query_only``), writing nothing."""
    uri = f"file:{urllib.parse.quote(str(path))}?mode=ro"

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(uri, uri=True, check_same_thread=False)

    engine = create_engine("sqlite://", creator=connect, poolclass=NullPool, **JSON_ENGINE_KWARGS)
    configure_sqlite_engine(engine, {"query_only": "ON"})
    return engine


class _ReadOnlySchema:
    """The schema part of a read-only aiida dialect: check the stamp and the repository, change nothing."""

    backend_name: str

    def open_schema(self, migrator: SqlMigrator, repository: AbstractRepositoryBackend) -> None:
        """Check that the database is an aiida-core 2.x store made with ``repository``; modify nothing."""
        check_readable(read_revision(migrator.connection), migrator.profile_name, self.backend_name)
        check_repository(migrator.connection, migrator.profile_name, repository.uuid)

    def schema_version(self, migrator: SqlMigrator) -> str | None:
        """Return the aiida-core schema revision of the database."""
        return read_revision(migrator.connection)

    def destroy_database(self, profile: Profile) -> None:
        """Refuse: an aiida-core store opened in place is never modified."""
        raise ReadOnlyStorage(f"profile {profile.name!r}: {self.backend_name} never deletes what it reads")

    def maintain_database(self, engine: Engine, full: bool, dry_run: bool) -> dict[str, Any]:
        """Do nothing: maintain the store with aiida-core (``verdi storage maintain``)."""
        return {}


class AiidaSqliteDosDialect(_ReadOnlySchema, SqliteDialect):
    """aiida-core's ``database.sqlite`` in the storage folder, opened read-only."""

    backend_name = "core.aiida_sqlite_dos"

    @staticmethod
    def folder(profile: Profile) -> Path:
        """Return the aiida storage folder of ``profile`` (absolute)."""
        return Path(AiidaSqliteDosStorage.validated_config(profile).filepath).expanduser().resolve()

    def database_path(self, profile: Profile) -> Path:
        """Return the path of aiida-core's database file."""
        return self.folder(profile) / "database.sqlite"

    def create_engine(self, profile: Profile, create: bool = False) -> Engine:
        """Return a read-only engine on the database file (``create`` is refused: nothing is ever created)."""
        if create:
            raise ReadOnlyStorage(f"profile {profile.name!r}: {self.backend_name} does not create stores")
        return sqlite_read_only_engine(self.database_path(profile))

    def storage_exists(self, profile: Profile) -> bool:
        """Return whether the database file exists."""
        return self.database_path(profile).is_file()

    def database_info(self, engine: Engine, profile: Profile) -> dict[str, Any]:
        """Return the database path and size."""
        path = self.database_path(profile)
        return {"dialect": "sqlite", "path": str(path), "size": path.stat().st_size, "read_only": True}


class AiidaPsqlDosDialect(_ReadOnlySchema, SqlDialect):
    """aiida-core's PostgreSQL database, every session read-only."""

    backend_name = "core.aiida_psql_dos"

    def create_engine(self, profile: Profile, create: bool = False) -> Engine:
        """Return an engine whose sessions are read-only (``default_transaction_read_only``)."""
        if create:
            raise ReadOnlyStorage(f"profile {profile.name!r}: {self.backend_name} does not create stores")
        config = AiidaPsqlDosStorage.validated_config(profile)
        password = config.database_password.get_secret_value() if config.database_password is not None else None
        url = URL.create(
            "postgresql+psycopg2",
            username=config.database_username,
            password=password or None,
            host=config.database_hostname,
            port=config.database_port,
            database=config.database_name,
        )
        return create_engine(url, connect_args={"options": "-c default_transaction_read_only=on"}, **JSON_ENGINE_KWARGS)

    def database_info(self, engine: Engine, profile: Profile) -> dict[str, Any]:
        """Return the server and database name (never the password)."""
        config = AiidaPsqlDosStorage.validated_config(profile)
        return {
            "dialect": "postgresql",
            "host": config.database_hostname,
            "port": config.database_port,
            "database": config.database_name,
            "read_only": True,
        }


class _ReadOnlyAiidaStorage(SqlStorageBackend):
    """What the read-only aiida backends share: schema calls that read only, and every write refused."""

    default_repository_backend: ClassVar[str | None] = "core.diskobjectstore"
    repository_selectable: ClassVar[bool] = False  # the files are aiida-core's container, read in place

    @classmethod
    def version_head(cls) -> str:
        """Return the aiida-core schema revision these backends are made for (``main_0002``)."""
        return AIIDA_HEAD

    @classmethod
    def version_profile(cls, profile: Profile) -> str | None:
        """Return the aiida-core schema revision of the store, or None if there is no database; reads only."""
        if not cls.dialect.storage_exists(profile):
            return None
        engine = cls.dialect.create_engine(profile)
        try:
            with SqlMigrator.connect(engine, profile.name) as migrator:
                return read_revision(migrator.connection)
        finally:
            engine.dispose()

    @classmethod
    def version_advice(cls, profile: Profile, version: str) -> str:
        """Return the line ``provstore storage version`` prints when ``version`` is not :meth:`version_head`.

        A store read in place is never migrated by provstore: the line says how to bring it in instead.
        """
        transfer = f"`provstore storage transfer --from {profile.name} --to <a provstore profile>`"
        if version in AIIDA_READABLE_REVISIONS:
            adopt = (
                f"`provstore -p {profile.name} storage adopt`"
                if version == AIIDA_HEAD
                else f"`verdi storage migrate` with aiida-core 2.9 then `provstore -p {profile.name} storage adopt`"
            )
            return f"This aiida-core store is read in place as it is; to bring it in: {transfer}, or {adopt}."
        return (
            "This is not an aiida-core 2.x store read here: migrate it with aiida-core 2.9 (`verdi storage migrate`), "
            f"then bring it in with {transfer}."
        )

    @classmethod
    def initialise(
        cls, profile: Profile, reset: bool = False, *, repository: AbstractRepositoryBackend | None = None
    ) -> bool:
        """Check that the profile points at a readable aiida-core store and return False (it exists already).

        :raises ReadOnlyStorage: ``reset``, or there is no store to read (these backends never create one).
        :raises IncompatibleStorageSchema: the database is not an aiida-core 2.x store.
        """
        name = cls.dialect.backend_name  # type: ignore[attr-defined]
        if reset:
            raise ReadOnlyStorage(f"profile {profile.name!r}: {name} never resets what it reads")
        if not cls.dialect.storage_exists(profile):
            raise UnreachableStorage(
                f"profile {profile.name!r}: no aiida-core store there; {name} reads existing stores only"
            )
        check_readable(cls.version_profile(profile), profile.name, name)
        return False

    @classmethod
    def migrate(cls, profile: Profile) -> None:
        """Refuse: an aiida-core store is migrated by aiida-core (``verdi storage migrate``)."""
        raise StorageMigrationError(
            f"profile {profile.name!r} is an aiida-core store read in place: migrate it with `verdi storage migrate`"
        )

    @classmethod
    def delete_storage(cls, profile: Profile, *, repository: AbstractRepositoryBackend | None = None) -> None:
        """Refuse: deleting an aiida-core store is aiida-core's business (the profile alone can be deleted)."""
        raise ReadOnlyStorage(f"profile {profile.name!r}: an aiida-core store is never deleted by provstore")

    def _refuse(self, what: str) -> ReadOnlyStorage:
        return ReadOnlyStorage(
            f"the storage of profile {self.profile.name!r} is an aiida-core store read in place: {what}"
        )

    def bulk_insert(
        self,
        entity_type: EntityTypes,
        rows: Iterable[dict[str, Any]],
        allow_defaults: bool = False,
        *,
        exclusive_load: bool = False,
    ) -> list[int]:
        """Refuse: the store is only read."""
        raise self._refuse("rows cannot be inserted")

    def bulk_update(self, entity_type: EntityTypes, rows: Iterable[dict[str, Any]]) -> None:
        """Refuse: the store is only read."""
        raise self._refuse("rows cannot be updated")

    def delete_nodes_and_connections(self, pks_to_delete: Sequence[int]) -> None:
        """Refuse: the store is only read."""
        raise self._refuse("nodes cannot be deleted")

    def set_global_variable(self, key: str, value: Any, description: str | None = None, overwrite: bool = True) -> None:
        """Refuse: the store is only read."""
        raise self._refuse("settings cannot be changed")

    def maintain(self, full: bool = False, dry_run: bool = False, **kwargs: Any) -> dict[str, Any]:
        """Refuse: maintain the store with aiida-core (``verdi storage maintain``)."""
        raise self._refuse("maintain it with `verdi storage maintain`")

    def _clear(self) -> None:
        raise self._refuse("it cannot be cleared")


class AiidaSqliteDosStorage(_ReadOnlyAiidaStorage):
    """An aiida-core ``core.sqlite_dos`` folder (``database.sqlite`` and ``container``), read in place."""

    class Configuration(BaseModel):
        """Where the aiida-core store is."""

        model_config = ConfigDict(extra="forbid")

        filepath: str = Field(
            description="Folder of the aiida-core core.sqlite_dos storage (its storage.config.filepath)."
        )

    dialect = AiidaSqliteDosDialect()

    @classmethod
    def default_repository_config(cls, profile: Profile) -> dict[str, Any]:
        """Return the container of the aiida-core folder."""
        return {"filepath": str(AiidaSqliteDosDialect.folder(profile) / "container")}

    def __init__(self, profile: Profile, repository: AbstractRepositoryBackend | None = None) -> None:
        """Open the aiida-core folder of ``profile`` read-only.

        :raises UnreachableStorage: there is no database in the folder.
        """
        path = self.dialect.database_path(profile)
        if not path.is_file():
            raise UnreachableStorage(f"profile {profile.name!r}: no aiida-core database at {path}")
        super().__init__(profile, repository)


class AiidaPsqlDosStorage(_ReadOnlyAiidaStorage):
    """An aiida-core ``core.psql_dos`` store: its PostgreSQL database and container (``<repository_uri>/container``)."""

    class Configuration(BaseModel):
        """The aiida-core profile's ``storage.config``, as ``verdi profile show`` prints it."""

        model_config = ConfigDict(extra="forbid")

        database_engine: str = Field(
            default="postgresql_psycopg",
            description="aiida-core's driver name (accepted as is; provstore uses psycopg2).",
        )
        database_hostname: str = Field(default="localhost", description="Host name or address of the server.")
        database_port: int = Field(default=5432, ge=1, le=65535, description="TCP port of the server.")
        database_username: str = Field(description="Role the store is read as.")
        database_password: SecretStr | None = Field(default=None, description="Password of the role.")
        database_name: str = Field(description="Name of the aiida-core database.")
        repository_uri: str = Field(
            description="aiida-core's repository_uri (file:///...): the container is its 'container' subfolder."
        )

    dialect = AiidaPsqlDosDialect()

    @classmethod
    def default_repository_config(cls, profile: Profile) -> dict[str, Any]:
        """Return the container aiida-core keeps in ``<repository_uri>/container``."""
        uri = cls.validated_config(profile).repository_uri
        parts = urllib.parse.urlsplit(uri)
        folder = urllib.parse.unquote(parts.path) if parts.scheme == "file" else uri
        return {"filepath": str(Path(folder).expanduser() / "container")}
