"""Schema versions of an SQL storage: read, validate, create and migrate them with alembic.

The alembic scripts ship as the package ``provstore_sql.migrations``; the configuration is built in code
(no ``alembic.ini``) and every command runs on a connection given by the caller. Opening a storage only
reads and validates its version, which needs no alembic: the version table is read with plain SQL and the
head revision from the scripts' source text, so alembic (a fifth of the start-up imports) loads only to
create, migrate or compare schemas.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import re
from collections.abc import Callable, Iterator
from importlib.resources import files
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from provstore.exceptions import (
    CorruptStorage,
    IncompatibleStorageSchema,
    StorageMigrationError,
    UnreachableStorage,
)
from sqlalchemy import Connection, Engine
from sqlalchemy import exc as sa_exc

from provstore_sql import tables
from provstore_sql.engine import BEGIN_MODE_OPTION, database_locked, is_database_locked
from provstore_sql.foreign import DJANGO_TABLE, aiida_store_message, is_aiida_revision

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

__all__ = ["REPOSITORY_UUID_KEY", "SqlMigrator"]

REPOSITORY_UUID_KEY = "repository|uuid"
"""Global variable holding the uuid of the repository the storage was created with."""

VERSION_TABLE = "alembic_version"

_REVISION_ASSIGNMENT = re.compile(r"^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(.+?)\s*$", re.MULTILINE)
"""A revision script's ``revision = "..."`` or ``down_revision = ...`` line (with or without annotation)."""


@functools.cache
def _head_from_sources() -> str | None:
    """Return the one head revision named in the scripts' source text, or None if it is not clear-cut there."""
    revisions, parents = set(), set()
    try:
        for script in files("provstore_sql.migrations").joinpath("versions").iterdir():
            if not script.name.endswith(".py") or script.name.startswith("_"):
                continue
            values = {name: ast.literal_eval(value) for name, value in _REVISION_ASSIGNMENT.findall(script.read_text())}
            down = values["down_revision"]
            revisions.add(values["revision"])
            parents.update(down if isinstance(down, (tuple, list)) else [down] if down else [])
    except (KeyError, ValueError, SyntaxError, OSError):
        return None
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and all(isinstance(item, str) for item in revisions) else None


class SqlMigrator:
    """Schema management of one database, on a connection owned by the caller."""

    def __init__(self, connection: Connection, profile_name: str) -> None:
        self.connection = connection
        self.profile_name = profile_name

    @classmethod
    @contextlib.contextmanager
    def connect(cls, engine: Engine, profile_name: str) -> Iterator[SqlMigrator]:
        """Yield a migrator on a new connection of ``engine``, translating database errors.

        :raises UnreachableStorage: the database cannot be connected to or opened.
        :raises LockedProfileError: another process keeps the (SQLite) database locked past the busy timeout.
        :raises CorruptStorage: the database file is not a database.
        """
        try:
            with engine.connect() as connection:
                yield cls(connection, profile_name)
        except sa_exc.OperationalError as exc:
            if is_database_locked(exc):
                raise database_locked(profile_name) from exc
            raise UnreachableStorage(
                f"cannot access the database of profile {profile_name!r}: {_first_line(exc.orig)}"
            ) from exc
        except sa_exc.DatabaseError as exc:
            raise CorruptStorage(
                f"the database of profile {profile_name!r} is unreadable: {_first_line(exc.orig)}"
            ) from exc

    # -------------------------------------------------------------------------- alembic
    @staticmethod
    def alembic_config(connection: Connection | None = None) -> Config:
        """Return an alembic configuration pointing at the shipped scripts (and ``connection`` if given)."""
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(files("provstore_sql.migrations")))
        if connection is not None:
            config.attributes["connection"] = connection
        return config

    @classmethod
    def script(cls) -> ScriptDirectory:
        """Return the directory of revision scripts."""
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(cls.alembic_config())

    @classmethod
    def version_head(cls) -> str:
        """Return the head revision of the shipped scripts (read from their source; alembic's answer if unclear)."""
        head = _head_from_sources() or cls.script().get_current_head()
        if head is None:  # pragma: no cover - the package always ships revisions
            raise StorageMigrationError("no schema revisions found in provstore_sql.migrations")
        return head

    @classmethod
    def versions(cls) -> list[str]:
        """Return every known revision, oldest first."""
        return [revision.revision for revision in reversed(list(cls.script().walk_revisions()))]

    # ------------------------------------------------------------------------- reading
    def version(self) -> str | None:
        """Return the database's schema revision, or None if it holds no provstore tables.

        Reads only, so that a store of another system is named before anything is written to it.

        :raises IncompatibleStorageSchema: the database is an aiida-core store (one line saying how to bring it in).
        :raises CorruptStorage: provstore tables exist but no schema version.
        """
        found = set(sa.inspect(self.connection).get_table_names())
        if VERSION_TABLE not in found:
            if DJANGO_TABLE in found:
                raise IncompatibleStorageSchema(self._aiida_message("django_* (aiida-core 1.x)"))
            if found & set(tables.metadata.tables):
                raise CorruptStorage(
                    f"the database of profile {self.profile_name!r} holds provstore tables but no schema version"
                )
            return None
        versions = list(self.connection.scalars(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")))
        if len(versions) > 1:
            raise CorruptStorage(
                f"the database of profile {self.profile_name!r} records several schema versions: {', '.join(versions)}"
            )
        if versions and is_aiida_revision(versions[0]):
            raise IncompatibleStorageSchema(self._aiida_message(versions[0]))
        return versions[0] if versions else None

    def _aiida_message(self, version: str) -> str:
        backend = "core.aiida_psql_dos" if self.connection.dialect.name == "postgresql" else "core.aiida_sqlite_dos"
        return aiida_store_message(self.profile_name, version, backend)

    def validate(self, repository_uuid: str | None) -> None:
        """Check that the schema is at head and the repository is the one the storage was made with.

        Reads only; never modifies the database.

        :raises IncompatibleStorageSchema: uninitialised, behind head (migrate) or ahead of it (old code).
        :raises CorruptStorage: the stored repository uuid differs from the repository's own.
        :raises UnreachableStorage: the repository is missing (``repository_uuid`` None, e.g. its folder was deleted).
        """
        version = self.version()
        head = self.version_head()
        name = self.profile_name
        if version is None:
            raise IncompatibleStorageSchema(
                f"the storage of profile {name!r} is not initialised (its database holds no schema)"
            )
        if version != head:
            if version not in self.versions():
                raise IncompatibleStorageSchema(
                    f"the storage of profile {name!r} has schema version {version}, unknown to this code "
                    f"(head {head}): the code is too old for this storage, upgrade provstore"
                )
            raise IncompatibleStorageSchema(
                f"the storage of profile {name!r} has schema version {version}, behind the code's {head}: "
                f"run `provstore -p {name} storage migrate` (back up the storage first)"
            )
        if repository_uuid is None:
            raise UnreachableStorage(
                f"the repository of the storage of profile {name!r} is missing or not initialised: "
                "restore it from a backup, or point the profile at the right one"
            )
        stored = self.repository_uuid()
        if stored is None:
            raise CorruptStorage(f"the storage of profile {name!r} records no repository uuid")
        if stored != repository_uuid:
            raise CorruptStorage(
                f"the storage of profile {name!r} was created with repository {stored} but its repository "
                f"is {repository_uuid}: the profile points at the wrong repository"
            )

    def repository_uuid(self) -> str | None:
        """Return the repository uuid recorded in the settings table, or None."""
        setting = tables.settings
        return self.connection.scalar(sa.select(setting.c.val).where(setting.c.key == REPOSITORY_UUID_KEY))

    def schema_differences(self) -> list[Any]:
        """Return the differences alembic autogenerate finds between the tables and this database."""
        from alembic.autogenerate import compare_metadata
        from alembic.migration import MigrationContext

        options = {"compare_type": True, "include_object": include_object_for(self.connection.dialect.name)}
        context = MigrationContext.configure(self.connection, opts=options)
        return compare_metadata(context, tables.metadata_for(self.connection.dialect.name))

    # ------------------------------------------------------------------------- writing
    def initialise(self, repository_uuid: str | None) -> None:
        """Create the schema at head and record ``repository_uuid``, in one transaction."""
        from alembic import command

        with self._transaction():
            command.upgrade(self.alembic_config(self.connection), "head")
            self.connection.execute(
                sa.insert(tables.settings).values(
                    key=REPOSITORY_UUID_KEY, val=repository_uuid, description="uuid of the storage's repository"
                )
            )

    def migrate(self) -> None:
        """Upgrade the schema to head, in one transaction.

        :raises StorageMigrationError: the database is not initialised, or its version is newer than the code.
        """
        from alembic import command
        from alembic.util import CommandError as AlembicCommandError

        version = self.version()
        if version is None:
            raise StorageMigrationError(
                f"the storage of profile {self.profile_name!r} is not initialised: nothing to migrate"
            )
        if version not in self.versions():
            raise StorageMigrationError(
                f"the storage of profile {self.profile_name!r} has schema version {version}, unknown to this code: "
                "the code is too old for this storage, upgrade provstore"
            )
        try:
            with self._transaction():
                command.upgrade(self.alembic_config(self.connection), "head")
        except (AlembicCommandError, ValueError) as exc:  # a revision script refusing the data raises ValueError
            name = self.profile_name
            raise StorageMigrationError(f"migrating the storage of profile {name!r} failed: {exc}") from exc
        except sa_exc.DBAPIError as exc:
            name = self.profile_name
            raise StorageMigrationError(
                f"migrating the storage of profile {name!r} failed, nothing changed: {_first_line(exc.orig)}"
            ) from exc

    def drop_all(self) -> None:
        """Drop every provstore table and the version table."""
        with self._transaction():
            tables.metadata.drop_all(self.connection)
            self.connection.execute(sa.text(f"DROP TABLE IF EXISTS {VERSION_TABLE}"))

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        if self.connection.in_transaction():  # inspection autobegins: finish that read first
            self.connection.commit()
        self.connection.execution_options(**{BEGIN_MODE_OPTION: "IMMEDIATE"})  # a real transaction on SQLite
        with self.connection.begin():
            yield


def include_object_for(dialect_name: str) -> Callable[..., bool]:
    """Return an alembic ``include_object`` hook skipping indexes the tables create only on other dialects."""

    def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        ddl_if = getattr(obj, "_ddl_if", None)
        if type_ == "index" and ddl_if is not None and ddl_if.dialect is not None:
            return ddl_if.dialect == dialect_name
        return True

    return include_object


def _first_line(error: object) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
