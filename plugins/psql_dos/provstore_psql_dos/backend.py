"""The ``core.psql_dos`` storage backend: a PostgreSQL database plus a disk-objectstore repository.

The SQL behaviour comes from :class:`~provstore_sql.backend.SqlStorageBackend`; :class:`PsqlDosDialect`
says how to reach the server and where PostgreSQL has a faster path: ``COPY`` for bulk inserts, array
parameters for large deletes, advisory locks for the profile lock and ``VACUUM`` for full maintenance.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import unquote, urlsplit

import pydantic
import sqlalchemy as sa
from provstore.config.paths import absolute_path
from provstore.exceptions import ConfigurationError
from provstore_sql import tables
from provstore_sql.backend import SqlStorageBackend
from provstore_sql.dialect import SqlDialect
from provstore_sql.engine import translate_disk_full
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from sqlalchemy import Connection, Engine, Table, delete
from sqlalchemy.dialects.postgresql import ARRAY

from provstore_psql_dos import connection as pg
from provstore_psql_dos.copy import copy_rows
from provstore_psql_dos.locking import AdvisoryProfileLock

if TYPE_CHECKING:
    from provstore.config import Profile
    from provstore_sql.bulk.load_mode import BulkLoad
    from provstore_sql.bulk.rows import RowPreparer

__all__ = ["PsqlDosBackend", "PsqlDosDialect"]


def _config(profile: Profile) -> PsqlDosBackend.Configuration:
    """Return the validated configuration of ``profile``.

    :raises ConfigurationError: naming the invalid fields, never echoing their values.
    """
    return PsqlDosBackend.validated_config(profile)


class PsqlDosDialect(SqlDialect):
    """A PostgreSQL database reached with psycopg2, shared by many processes under an advisory lock."""

    bulk_chunk_size = 10_000
    """Rows per COPY: large enough to amortise the round trips, small enough to bound memory (a few MB)."""

    delete_chunk_size = 100_000
    """Primary keys per array parameter of ``delete_nodes_and_connections`` (linear in the count)."""

    def create_engine(self, profile: Profile, create: bool = False) -> Engine:
        """Return an engine on the profile's database, creating the database first if ``create`` and missing."""
        config = _config(profile)
        if create and not pg.database_exists(config):
            pg.create_database(config)
        engine = pg.create_engine(config)
        where = f"database {config.database_name!r} on {config.database_hostname}:{config.database_port}"
        translate_disk_full(engine, profile.name, where)  # SQLSTATE 53100, "could not extend file": StorageFull
        return engine

    def storage_exists(self, profile: Profile) -> bool:
        """Return whether the profile's database exists.

        :raises UnreachableStorage: the server cannot be reached or refuses the credentials.
        """
        return pg.database_exists(_config(profile))

    def profile_lock(self, profile: Profile) -> AdvisoryProfileLock:
        """Return the advisory lock of the profile's database."""
        return AdvisoryProfileLock(profile.name, _config(profile))

    def insert_chunk(
        self,
        connection: Connection,
        table: Table,
        rows: list[Mapping[str, Any]],
        prepare: RowPreparer,
        *,
        first_index: int,
        load: BulkLoad | None,
    ) -> list[int]:
        """Insert one chunk with ``COPY FROM STDIN`` (ids reserved from the sequence first); pks in input order.

        In load mode the table is the transaction's alone, so the ids are reserved as one range.
        """
        return copy_rows(connection, table, rows, prepare, first_index=first_index, table_locked=load is not None)

    def delete_node_chunk(self, connection: Connection, pks: list[int]) -> None:
        """Delete one chunk of nodes and everything attached to them, each statement with one array parameter."""
        chunk = sa.bindparam("pks", value=list(pks), type_=ARRAY(sa.Integer))
        link = tables.links
        touching = sa.or_(link.c.input_id == sa.any_(chunk), link.c.output_id == sa.any_(chunk))
        connection.execute(delete(link).where(touching))
        for table in (tables.group_nodes, tables.comments, tables.logs):
            connection.execute(delete(table).where(table.c.dbnode_id == sa.any_(chunk)))
        node = tables.nodes
        connection.execute(delete(node).where(node.c.id == sa.any_(chunk)))

    def maintain_database(self, engine: Engine, full: bool, dry_run: bool) -> dict[str, Any]:
        """Refresh planner statistics (live); full maintenance also vacuums to reclaim dead rows."""
        statement = "VACUUM (ANALYZE)" if full else "ANALYZE"
        if dry_run:
            return {"statement": statement, "done": False}
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql(statement)
        return {"statement": statement, "done": True}

    def after_fork_in_child(self, engine: Engine) -> bool:
        """In a forked child: cut the parent's sockets loose, then forget its pooled connections."""
        pg.detach_inherited_connections()
        return super().after_fork_in_child(engine)

    def database_info(self, engine: Engine, profile: Profile) -> dict[str, Any]:
        """Return where the database is (never the password) and the server's version."""
        config = _config(profile)
        with engine.connect() as connection:
            version = connection.exec_driver_sql("SHOW server_version").scalar()
            size = connection.exec_driver_sql("SELECT pg_database_size(current_database())").scalar()
        return {
            "dialect": "postgresql",
            "host": config.database_hostname,
            "port": config.database_port,
            "database": config.database_name,
            "user": config.database_username,
            "server_version": version,
            "size_bytes": size,
        }


class PsqlDosBackend(SqlStorageBackend):
    """Storage in a PostgreSQL database with files in a disk-objectstore container; many processes may share it."""

    class Configuration(BaseModel):
        """Connection settings of the PostgreSQL database and the folder of the repository."""

        model_config = ConfigDict(extra="forbid")

        database_hostname: str = Field(default="localhost", description="Host name or address of the server.")
        database_port: int = Field(default=5432, ge=1, le=65535, description="TCP port of the server.")
        database_username: str = Field(description="Role (user) the storage connects as.")
        database_password: SecretStr | None = Field(
            default=None, description="Password of the role; leave empty for trust or peer authentication."
        )
        database_name: str = Field(description="Name of the database holding the provenance graph.")
        repository_uri: str | None = Field(
            default=None,
            description="Folder of the disk-objectstore container holding the files (a path or a file:// URI); "
            "required unless the profile names its own repository backend.",
        )
        engine_kwargs: dict[str, Any] = Field(
            default_factory=dict, description="Extra keyword arguments of sqlalchemy.create_engine (JSON object)."
        )

        @pydantic.field_validator("repository_uri")
        @classmethod
        def _local_folder(cls, value: str | None) -> str | None:
            if value is None:
                return None
            parts = urlsplit(value)
            if parts.scheme not in ("", "file") or (parts.scheme == "file" and parts.netloc not in ("", "localhost")):
                raise ValueError("must be a local folder: a path or a file:// URI")
            if not (unquote(parts.path) if parts.scheme else value).strip():
                raise ValueError("must not be empty")
            return value if parts.scheme else absolute_path(value)

        @property
        def repository_folder(self) -> str:
            """Return the repository folder as a plain path (a ``file://`` URI is decoded).

            :raises ConfigurationError: the configuration names no folder.
            """
            if self.repository_uri is None:
                raise ConfigurationError(
                    "core.psql_dos needs 'repository_uri' (the folder of its disk-objectstore container) when the "
                    "profile names no repository backend"
                )
            parts = urlsplit(self.repository_uri)
            return unquote(parts.path) if parts.scheme == "file" else self.repository_uri

    class SetupOptions(BaseModel):
        """Administrator credentials with which ``profile setup`` creates the role and database when missing."""

        admin_username: str | None = Field(
            default=None,
            description="Administrator role that creates the profile's role and database if they do not exist "
            "(omit to use an existing role and database).",
        )
        admin_password: SecretStr | None = Field(default=None, description="Password of the administrator role.")

    default_repository_backend: ClassVar[str | None] = "core.diskobjectstore"
    default_repository_fields: ClassVar[frozenset[str]] = frozenset({"repository_uri"})
    dialect = PsqlDosDialect()

    @classmethod
    def default_repository_config(cls, profile: Profile) -> dict[str, Any]:
        """Return the disk-objectstore configuration pointing at ``repository_uri``.

        :raises ConfigurationError: the profile gives no ``repository_uri``.
        """
        try:
            return {"filepath": _config(profile).repository_folder}
        except ConfigurationError as exc:
            raise ConfigurationError(f"profile {profile.name!r}: {exc}") from None

    @classmethod
    def setup_storage(cls, profile: Profile, options: SetupOptions | None) -> dict[str, bool]:
        """Create the profile's role and database with administrator credentials, where they are missing.

        Called by ``provstore profile setup core.psql_dos`` before :meth:`initialise`. Without
        ``--admin-username`` nothing is done (the role and database must exist, or the role must be
        allowed to create the database). Returns which of role and database were created.

        :raises UnreachableStorage: the administrator cannot connect or lacks the rights.
        """
        if options is None or options.admin_username is None:
            return {"role": False, "database": False}
        from provstore_psql_dos.provision import provision

        password = options.admin_password.get_secret_value() if options.admin_password is not None else None
        return provision(_config(profile), options.admin_username, password)

    def __str__(self) -> str:
        return f"{type(self).__name__} for profile {self.profile.name!r}: {pg.describe(_config(self.profile))}"

    __repr__ = __str__
