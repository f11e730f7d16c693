"""The ``core.psql_dos`` storage backend: a PostgreSQL database plus a disk-objectstore repository.

The SQL behaviour comes from :class:`~provstore_sql.backend.SqlStorageBackend`; this class says how
to reach the server, and replaces the generic paths where PostgreSQL has a faster one: ``COPY`` for
bulk inserts, array parameters for large deletes, advisory locks for the profile lock and ``VACUUM``
for full maintenance.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import unquote, urlsplit

import pydantic
import sqlalchemy as sa
from provstore.storage.entity_types import EntityTypes
from provstore_sql import tables
from provstore_sql.backend import SqlStorageBackend
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from sqlalchemy import Connection, Engine, Table, delete
from sqlalchemy.dialects.postgresql import ARRAY

from provstore_psql_dos import connection as pg
from provstore_psql_dos.copy import copy_rows
from provstore_psql_dos.locking import AdvisoryProfileLock

if TYPE_CHECKING:
    from provstore.config import Profile
    from provstore_sql.bulk import RowPreparer

__all__ = ["PsqlDosBackend"]


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
        repository_uri: str = Field(
            description="Folder of the disk-objectstore container holding the files (a path or a file:// URI)."
        )
        engine_kwargs: dict[str, Any] = Field(
            default_factory=dict, description="Extra keyword arguments of sqlalchemy.create_engine (JSON object)."
        )

        @pydantic.field_validator("repository_uri")
        @classmethod
        def _local_folder(cls, value: str) -> str:
            parts = urlsplit(value)
            if parts.scheme not in ("", "file") or (parts.scheme == "file" and parts.netloc not in ("", "localhost")):
                raise ValueError("must be a local folder: a path or a file:// URI")
            if not (unquote(parts.path) if parts.scheme else value).strip():
                raise ValueError("must not be empty")
            return value

        @property
        def repository_folder(self) -> str:
            """Return the repository folder as a plain path (a ``file://`` URI is decoded)."""
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

    bulk_chunk_size: ClassVar[int] = 10_000
    """Rows per COPY: large enough to amortise the round trips, small enough to bound memory (a few MB)."""

    delete_chunk_size: ClassVar[int] = 100_000
    """Primary keys per array parameter of :meth:`delete_nodes_and_connections` (linear in the count)."""

    # ------------------------------------------------------------------ configuration
    @classmethod
    def _config(cls, profile: Profile) -> Configuration:
        """Return the validated configuration of ``profile``.

        :raises ConfigurationError: naming the invalid fields, never echoing their values.
        """
        return cls._validated_config(profile)

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
        return provision(cls._config(profile), options.admin_username, password)

    # ------------------------------------------------------------------ SqlStorageBackend hooks
    @classmethod
    def _create_engine(cls, profile: Profile, create: bool = False) -> Engine:
        """Return an engine on the profile's database, creating the database first if ``create`` and missing."""
        config = cls._config(profile)
        if create and not pg.database_exists(config):
            pg.create_database(config)
        return pg.create_engine(config)

    @classmethod
    def _storage_exists(cls, profile: Profile) -> bool:
        """Return whether the profile's database exists.

        :raises UnreachableStorage: the server cannot be reached or refuses the credentials.
        """
        return pg.database_exists(cls._config(profile))

    @classmethod
    def _default_repository_config(cls, profile: Profile) -> dict[str, Any]:
        """Return the disk-objectstore configuration pointing at ``repository_uri``."""
        return {"filepath": cls._config(profile).repository_folder}

    @classmethod
    def _profile_lock(cls, profile: Profile) -> AdvisoryProfileLock:
        """Return the advisory lock of the profile's database."""
        return AdvisoryProfileLock(profile.name, cls._config(profile))

    def bulk_insert(
        self, entity_type: EntityTypes, rows: Iterable[dict[str, Any]], allow_defaults: bool = False
    ) -> list[int]:
        """Insert rows with ``COPY`` in chunks, in one transaction; return the new pks in input order.

        :raises IntegrityError: a row has unknown or missing keys or violates a constraint; nothing is written.
        :raises ValidationError: a value has the wrong type or cannot be stored; nothing is written.
        """
        self._local.rows_copied = 0  # position of the next chunk in the input, for error messages
        return super().bulk_insert(entity_type, rows, allow_defaults)

    def _insert_chunk(
        self, connection: Connection, table: Table, rows: list[Mapping[str, Any]], prepare: RowPreparer
    ) -> list[int]:
        """Insert one chunk with ``COPY FROM STDIN`` (ids reserved from the sequence first); pks in input order."""
        first = getattr(self._local, "rows_copied", 0)
        locked = getattr(self._local, "bulk_load", None) is not None  # bulk-load mode: the table is ours alone
        pks = copy_rows(connection, table, rows, prepare, first_index=first, table_locked=locked)
        self._local.rows_copied = first + len(rows)
        return pks

    def _delete_node_chunk(self, connection: Connection, pks: list[int]) -> None:
        """Delete one chunk of nodes and everything attached to them, each statement with one array parameter."""
        chunk = sa.bindparam("pks", value=list(pks), type_=ARRAY(sa.Integer))
        link = tables.links
        touching = sa.or_(link.c.input_id == sa.any_(chunk), link.c.output_id == sa.any_(chunk))
        connection.execute(delete(link).where(touching))
        for table in (tables.group_nodes, tables.comments, tables.logs):
            connection.execute(delete(table).where(table.c.dbnode_id == sa.any_(chunk)))
        node = tables.nodes
        connection.execute(delete(node).where(node.c.id == sa.any_(chunk)))

    def _maintain_database(self, full: bool, dry_run: bool) -> dict[str, Any]:
        """Refresh planner statistics (live); full maintenance also vacuums to reclaim dead rows."""
        statement = "VACUUM (ANALYZE)" if full else "ANALYZE"
        if dry_run:
            return {"statement": statement, "done": False}
        with self._engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql(statement)
        return {"statement": statement, "done": True}

    def _after_fork(self) -> None:
        """In a forked child: cut the parent's sockets loose, then open our own connections and shared lock."""
        pg.detach_inherited_connections()
        super()._after_fork()
        if not self.is_closed:
            self._lock.reacquire_after_fork()

    def _database_info(self) -> dict[str, Any]:
        """Return where the database is (never the password) and the server's version."""
        config = self._config(self.profile)
        with self._engine.connect() as connection:
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

    def __str__(self) -> str:
        config = self._config(self.profile)
        return f"{type(self).__name__} for profile {self.profile.name!r}: {pg.describe(config)}"

    __repr__ = __str__
