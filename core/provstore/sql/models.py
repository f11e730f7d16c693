"""SQLAlchemy models of the provenance graph; table and column names follow ``SCHEMA.md``.

JSON columns are JSONB on PostgreSQL and JSON on SQLite; foreign keys are deferrable on PostgreSQL.
PostgreSQL-only indexes (LIKE-prefix ``varchar_pattern_ops``, GIN on JSONB) are declared with ``ddl_if`` so
the same metadata serves both dialects. Nothing here imports the PostgreSQL dialect package (45 ms): JSONB
resolves when a PostgreSQL engine uses it, and the indexes' ``postgresql_*`` options are attached by
:func:`metadata_for` for alembic's comparisons on PostgreSQL.
"""

# No ``from __future__ import annotations`` here: SQLAlchemy would evaluate each ``Mapped[...]`` string again
# when it maps the classes (about 1 % of opening a storage); evaluated once by Python, they cost nothing more.

import datetime
import uuid as uuid_module
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeEngine

__all__ = [
    "Base",
    "DbAuthInfo",
    "DbComment",
    "DbComputer",
    "DbGroup",
    "DbGroupNode",
    "DbLink",
    "DbLog",
    "DbNode",
    "DbSetting",
    "DbUser",
    "JsonType",
    "UtcDateTime",
    "metadata_for",
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


def _fk(target: str, ondelete: str | None = None) -> ForeignKey:
    return ForeignKey(target, ondelete=ondelete, deferrable=True, initially="DEFERRED")


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


class Base(DeclarativeBase):
    """Declarative base holding the metadata of every provstore table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JsonType}


class DbUser(Base):
    """A person who creates data; identified by email."""

    __tablename__ = "db_dbuser"
    __table_args__ = (_pattern_index("db_dbuser", "email"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True, index=True)
    first_name: Mapped[str] = mapped_column(String(254), default="")
    last_name: Mapped[str] = mapped_column(String(254), default="")
    institution: Mapped[str] = mapped_column(String(254), default="")


class DbComputer(Base):
    """A machine on which calculations ran."""

    __tablename__ = "db_dbcomputer"
    __table_args__ = (_pattern_index("db_dbcomputer", "label"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=_uuid)
    label: Mapped[str] = mapped_column(String(255), unique=True, index=True)
    hostname: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    scheduler_type: Mapped[str] = mapped_column(String(255), default="")
    transport_type: Mapped[str] = mapped_column(String(255), default="")
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JsonType, default=dict)


class DbAuthInfo(Base):
    """Credentials of a user on a computer."""

    __tablename__ = "db_dbauthinfo"
    __table_args__ = (UniqueConstraint("aiidauser_id", "dbcomputer_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    aiidauser_id: Mapped[int] = mapped_column(_fk("db_dbuser.id", "CASCADE"), index=True)
    dbcomputer_id: Mapped[int] = mapped_column(_fk("db_dbcomputer.id", "CASCADE"), index=True)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JsonType, default=dict)
    auth_params: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class DbGroup(Base):
    """A named set of nodes."""

    __tablename__ = "db_dbgroup"
    __table_args__ = (
        UniqueConstraint("label", "type_string"),
        _pattern_index("db_dbgroup", "label"),
        _pattern_index("db_dbgroup", "type_string"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=_uuid)
    label: Mapped[str] = mapped_column(String(255), index=True)
    type_string: Mapped[str] = mapped_column(String(255), default="core", index=True)
    time: Mapped[datetime.datetime] = mapped_column(UtcDateTime(), default=_now)
    description: Mapped[str] = mapped_column(Text, default="")
    extras: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    user_id: Mapped[int] = mapped_column(_fk("db_dbuser.id", "CASCADE"), index=True)


class DbGroupNode(Base):
    """Membership of a node in a group."""

    __tablename__ = "db_dbgroup_dbnodes"
    __table_args__ = (UniqueConstraint("dbgroup_id", "dbnode_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dbnode_id: Mapped[int] = mapped_column(_fk("db_dbnode.id", "CASCADE"), index=True)
    dbgroup_id: Mapped[int] = mapped_column(_fk("db_dbgroup.id", "CASCADE"), index=True)


class DbNode(Base):
    """A node of the provenance graph: data or a process, with JSON attributes and extras."""

    __tablename__ = "db_dbnode"
    __table_args__ = (
        _pattern_index("db_dbnode", "label"),
        _pattern_index("db_dbnode", "node_type"),
        _pattern_index("db_dbnode", "process_type"),
        _postgresql_index("ix_gin_db_dbnode_attributes", "attributes", postgresql_using="gin"),
        _postgresql_index("ix_gin_db_dbnode_extras", "extras", postgresql_using="gin"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=_uuid)
    node_type: Mapped[str] = mapped_column(String(255), default="", index=True)
    process_type: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    label: Mapped[str] = mapped_column(String(255), default="", index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    ctime: Mapped[datetime.datetime] = mapped_column(UtcDateTime(), default=_now, index=True)
    mtime: Mapped[datetime.datetime] = mapped_column(UtcDateTime(), default=_now, index=True)
    attributes: Mapped[dict[str, Any] | None] = mapped_column(JsonType, nullable=True, default=dict)
    extras: Mapped[dict[str, Any] | None] = mapped_column(JsonType, nullable=True, default=dict)
    repository_metadata: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    dbcomputer_id: Mapped[int | None] = mapped_column(_fk("db_dbcomputer.id", "RESTRICT"), nullable=True, index=True)
    user_id: Mapped[int] = mapped_column(_fk("db_dbuser.id", "RESTRICT"), index=True)


class DbLink(Base):
    """A typed, labelled link from an input node to an output node."""

    __tablename__ = "db_dblink"
    __table_args__ = (
        _pattern_index("db_dblink", "label"),
        _pattern_index("db_dblink", "type"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    input_id: Mapped[int] = mapped_column(_fk("db_dbnode.id"), index=True)
    output_id: Mapped[int] = mapped_column(_fk("db_dbnode.id", "CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(255), index=True)
    type: Mapped[str] = mapped_column(String(255), index=True)


class DbComment(Base):
    """A free-text comment by a user on a node."""

    __tablename__ = "db_dbcomment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=_uuid)
    dbnode_id: Mapped[int] = mapped_column(_fk("db_dbnode.id", "CASCADE"), index=True)
    ctime: Mapped[datetime.datetime] = mapped_column(UtcDateTime(), default=_now)
    mtime: Mapped[datetime.datetime] = mapped_column(UtcDateTime(), default=_now)
    user_id: Mapped[int] = mapped_column(_fk("db_dbuser.id", "CASCADE"), index=True)
    content: Mapped[str] = mapped_column(Text, default="")


class DbLog(Base):
    """A log record attached to a node."""

    __tablename__ = "db_dblog"
    __table_args__ = (
        _pattern_index("db_dblog", "loggername"),
        _pattern_index("db_dblog", "levelname"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=_uuid)
    time: Mapped[datetime.datetime] = mapped_column(UtcDateTime(), default=_now)
    loggername: Mapped[str] = mapped_column(String(255), index=True)
    levelname: Mapped[str] = mapped_column(String(50), index=True)
    dbnode_id: Mapped[int] = mapped_column(_fk("db_dbnode.id", "CASCADE"), index=True)
    message: Mapped[str] = mapped_column(Text, default="")
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JsonType, default=dict)


class DbSetting(Base):
    """A global variable of the storage (for example ``repository|uuid``)."""

    __tablename__ = "db_dbsetting"
    __table_args__ = (_pattern_index("db_dbsetting", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(1024), unique=True)
    val: Mapped[Any] = mapped_column(JsonType)
    description: Mapped[str] = mapped_column(Text, default="")
    time: Mapped[datetime.datetime] = mapped_column(UtcDateTime(), default=_now)


def metadata_for(dialect_name: str) -> MetaData:
    """Return the metadata of every table, with the index options of ``dialect_name`` attached (schema comparisons).

    Only alembic (comparing or autogenerating against a database) reads the ``postgresql_*`` options of the
    PostgreSQL-only indexes; they are attached here, on first use with PostgreSQL, and never needed on SQLite.
    """
    if dialect_name == "postgresql":
        for table in Base.metadata.tables.values():
            for index in table.indexes:
                index.dialect_kwargs.update(index.info.get(_POSTGRESQL_OPTIONS, {}))
    return Base.metadata
