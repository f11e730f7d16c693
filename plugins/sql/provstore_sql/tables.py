"""The SQL tables of the provenance graph as SQLAlchemy Core ``Table`` objects; names follow ``SCHEMA.md``.

Everything that reads or writes rows without entities (opening a storage, queries, bulk operations,
migrations) uses these tables; :mod:`provstore_sql.models` maps the ORM classes of the entity API onto them.
Importing this module does not import ``sqlalchemy.orm`` (about 55 ms with the declarative class building).

JSON columns are JSONB on PostgreSQL and JSON on SQLite, uuid columns ``uuid`` and ``varchar(36)``; foreign
keys are deferrable on PostgreSQL.
PostgreSQL-only indexes (LIKE-prefix ``varchar_pattern_ops``, GIN on JSONB) are declared with ``ddl_if`` so
the same metadata serves both dialects. Nothing here imports the PostgreSQL dialect package (45 ms): JSONB
resolves when a PostgreSQL engine uses it, and the indexes' ``postgresql_*`` options are attached by
:func:`metadata_for` for alembic's comparisons on PostgreSQL.
"""

from __future__ import annotations

import datetime
import uuid as uuid_module
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

__all__ = [
    "JsonType",
    "UtcDateTime",
    "UuidType",
    "authinfos",
    "canonical_uuid",
    "comments",
    "computers",
    "group_nodes",
    "groups",
    "links",
    "logs",
    "metadata",
    "metadata_for",
    "nodes",
    "settings",
    "users",
]


class _PostgresJsonb(TypeDecorator[Any]):
    """JSONB, resolved only when a PostgreSQL dialect asks for it: ``sqlalchemy.dialects.postgresql`` costs 45 ms.

    Only the ``"postgresql"`` variant of :data:`JsonType` uses it, so JSON columns stay ``JSON`` instances
    (with ``JSON``'s comparator and ``None`` handling) everywhere, and SQLite never imports the PostgreSQL dialect.
    """

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        from sqlalchemy.dialects.postgresql import JSONB

        return dialect.type_descriptor(JSONB())


JsonType = JSON().with_variant(_PostgresJsonb(), "postgresql")
"""JSON column type: JSONB on PostgreSQL, JSON (text) on SQLite."""


def canonical_uuid(value: Any) -> str | None:
    """Return ``value`` as a lowercase dashed uuid string, or None if it is no uuid (so it matches nothing)."""
    if isinstance(value, uuid_module.UUID):
        return str(value)
    if not isinstance(value, str):
        return None
    try:
        return str(uuid_module.UUID(value))
    except ValueError:
        return None


class UuidType(TypeDecorator[str]):
    """A uuid as a lowercase ``str``: the native ``uuid`` type on PostgreSQL (as aiida-core), ``varchar(36)`` elsewhere.

    Values are bound as text (``uuid.UUID`` objects are accepted) and always read back as lowercase ``str``,
    whatever the driver returns (psycopg2 gives ``uuid.UUID`` once SQLAlchemy registered its converter).
    """

    impl = String(36)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import UUID

            return dialect.type_descriptor(UUID(as_uuid=False))
        return dialect.type_descriptor(String(36))

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, uuid_module.UUID):
            return str(value)
        if isinstance(value, str):
            return value.lower()
        raise TypeError(f"expected a uuid string, got {type(value).__name__}")

    def process_result_value(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else str(value).lower()

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        """Return no processor on SQLite, whose text comes back as it was bound (reads stay as fast as before)."""
        return None if dialect.name == "sqlite" else super().result_processor(dialect, coltype)

    @property
    def python_type(self) -> type[str]:
        return str


NAMING_CONVENTION = {
    "pk": "%(table_name)s_pkey",
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
}


class UtcDateTime(TypeDecorator[datetime.datetime]):
    """Timezone-aware timestamp stored as UTC on every dialect (SQLite would otherwise drop the offset).

    Naive datetimes are taken to be UTC; values read back always carry ``timezone.utc``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime.datetime | None, dialect: Any) -> datetime.datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime.datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        value = value.astimezone(datetime.timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime.datetime | None, dialect: Any) -> datetime.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=datetime.timezone.utc)
        return value.astimezone(datetime.timezone.utc)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _uuid() -> str:
    return str(uuid_module.uuid4())


def _column(name: str, *args: Any, nullable: bool = False, **kwargs: Any) -> Column[Any]:
    """Return a column, NOT NULL unless ``nullable`` (the schema's default)."""
    return Column(name, *args, nullable=nullable, **kwargs)


def _id() -> Column[int]:
    return Column("id", Integer, primary_key=True)


def _fk(name: str, target: str, ondelete: str | None = None, nullable: bool = False) -> Column[int]:
    """Return an indexed integer column referencing ``target``, its foreign key deferrable (PostgreSQL)."""
    key = ForeignKey(target, ondelete=ondelete, deferrable=True, initially="DEFERRED")
    return _column(name, Integer, key, nullable=nullable, index=True)


def _json(name: str, nullable: bool = False) -> Column[Any]:
    """Return a JSON column defaulting to the empty object."""
    return _column(name, JsonType, nullable=nullable, default=dict)


def _uuid_column() -> Column[str]:
    return _column("uuid", UuidType(), unique=True, default=_uuid)


def _timestamp(name: str, index: bool | None = None) -> Column[datetime.datetime]:
    """Return a UTC timestamp column defaulting to now."""
    return _column(name, UtcDateTime(), default=_now, index=index)


_POSTGRESQL_OPTIONS = "provstore_postgresql_options"
"""Key of an index's ``info`` holding its ``postgresql_*`` options until :func:`metadata_for` attaches them."""


def _postgresql_index(name: str, column: str, **options: Any) -> Index:
    """Return an index created only on PostgreSQL, its ``postgresql_*`` options kept aside for :func:`metadata_for`.

    Giving them to ``Index()`` would import the PostgreSQL dialect (45 ms) to validate them, even on SQLite.
    """
    return Index(name, column, info={_POSTGRESQL_OPTIONS: options}).ddl_if(dialect="postgresql")


def _pattern_index(table: str, column: str) -> Index:
    """Return a PostgreSQL-only index that serves ``LIKE 'prefix%'`` on a varchar column."""
    return _postgresql_index(
        f"ix_pat_{table}_{column}", column, postgresql_using="btree", postgresql_ops={column: "varchar_pattern_ops"}
    )


metadata = MetaData(naming_convention=NAMING_CONVENTION)
"""The metadata holding every provstore table."""

users = Table(
    "db_dbuser",
    metadata,
    _id(),
    _column("email", String(254), unique=True, index=True),
    _column("first_name", String(254), default=""),
    _column("last_name", String(254), default=""),
    _column("institution", String(254), default=""),
    _pattern_index("db_dbuser", "email"),
)
"""People who create data; identified by email."""

computers = Table(
    "db_dbcomputer",
    metadata,
    _id(),
    _uuid_column(),
    _column("label", String(255), unique=True, index=True),
    _column("hostname", String(255), default=""),
    _column("description", Text, default=""),
    _column("scheduler_type", String(255), default=""),
    _column("transport_type", String(255), default=""),
    _json("metadata"),
    _pattern_index("db_dbcomputer", "label"),
)
"""Machines on which calculations ran."""

authinfos = Table(
    "db_dbauthinfo",
    metadata,
    _id(),
    _fk("aiidauser_id", "db_dbuser.id", "CASCADE"),
    _fk("dbcomputer_id", "db_dbcomputer.id", "CASCADE"),
    _json("metadata"),
    _json("auth_params"),
    _column("enabled", Boolean, default=True),
    UniqueConstraint("aiidauser_id", "dbcomputer_id"),
)
"""Credentials of a user on a computer."""

groups = Table(
    "db_dbgroup",
    metadata,
    _id(),
    _uuid_column(),
    _column("label", String(255), index=True),
    _column("type_string", String(255), default="core", index=True),
    _timestamp("time"),
    _column("description", Text, default=""),
    _json("extras"),
    _fk("user_id", "db_dbuser.id", "CASCADE"),
    UniqueConstraint("label", "type_string"),
    _pattern_index("db_dbgroup", "label"),
    _pattern_index("db_dbgroup", "type_string"),
)
"""Named sets of nodes."""

group_nodes = Table(
    "db_dbgroup_dbnodes",
    metadata,
    _id(),
    _fk("dbnode_id", "db_dbnode.id", "CASCADE"),
    _fk("dbgroup_id", "db_dbgroup.id", "CASCADE"),
    UniqueConstraint("dbgroup_id", "dbnode_id"),
)
"""Memberships of nodes in groups."""

nodes = Table(
    "db_dbnode",
    metadata,
    _id(),
    _uuid_column(),
    _column("node_type", String(255), default="", index=True),
    _column("process_type", String(255), nullable=True, index=True),
    _column("label", String(255), default="", index=True),
    _column("description", Text, default=""),
    _timestamp("ctime", index=True),
    _timestamp("mtime", index=True),
    _json("attributes", nullable=True),
    _json("extras", nullable=True),
    _json("repository_metadata"),
    _fk("dbcomputer_id", "db_dbcomputer.id", "RESTRICT", nullable=True),
    _fk("user_id", "db_dbuser.id", "RESTRICT"),
    _pattern_index("db_dbnode", "label"),
    _pattern_index("db_dbnode", "node_type"),
    _pattern_index("db_dbnode", "process_type"),
    _postgresql_index("ix_gin_db_dbnode_attributes", "attributes", postgresql_using="gin"),
    _postgresql_index("ix_gin_db_dbnode_extras", "extras", postgresql_using="gin"),
)
"""Nodes of the provenance graph: data or processes, with JSON attributes and extras."""

links = Table(
    "db_dblink",
    metadata,
    _id(),
    _fk("input_id", "db_dbnode.id"),
    _fk("output_id", "db_dbnode.id", "CASCADE"),
    _column("label", String(255), index=True),
    _column("type", String(255), index=True),
    _pattern_index("db_dblink", "label"),
    _pattern_index("db_dblink", "type"),
)
"""Typed, labelled links from an input node to an output node."""

comments = Table(
    "db_dbcomment",
    metadata,
    _id(),
    _uuid_column(),
    _fk("dbnode_id", "db_dbnode.id", "CASCADE"),
    _timestamp("ctime"),
    _timestamp("mtime"),
    _fk("user_id", "db_dbuser.id", "CASCADE"),
    _column("content", Text, default=""),
)
"""Free-text comments by users on nodes."""

logs = Table(
    "db_dblog",
    metadata,
    _id(),
    _uuid_column(),
    _timestamp("time"),
    _column("loggername", String(255), index=True),
    _column("levelname", String(50), index=True),
    _fk("dbnode_id", "db_dbnode.id", "CASCADE"),
    _column("message", Text, default=""),
    _json("metadata"),
    _pattern_index("db_dblog", "loggername"),
    _pattern_index("db_dblog", "levelname"),
)
"""Log records attached to nodes."""

settings = Table(
    "db_dbsetting",
    metadata,
    _id(),
    _column("key", String(1024), unique=True),
    _column("val", JsonType),
    _column("description", Text, default=""),
    _timestamp("time"),
    _pattern_index("db_dbsetting", "key"),
)
"""Global variables of the storage (for example ``repository|uuid``)."""


def metadata_for(dialect_name: str) -> MetaData:
    """Return the metadata of every table, with the index options of ``dialect_name`` attached (schema comparisons).

    Only alembic (comparing or autogenerating against a database) reads the ``postgresql_*`` options of the
    PostgreSQL-only indexes; they are attached here, on first use with PostgreSQL, and never needed on SQLite.
    """
    if dialect_name == "postgresql":
        for table in metadata.tables.values():
            for index in table.indexes:
                index.dialect_kwargs.update(index.info.get(_POSTGRESQL_OPTIONS, {}))
    return metadata
