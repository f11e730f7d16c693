"""ORM classes of the entity API, mapped onto the Core tables of :mod:`provstore_sql.tables`.

Only the entity collections (and sessions) need them: opening a storage, queries and bulk operations use the
tables directly, so that ``sqlalchemy.orm`` and the class mapping (about 100 ms together) load only when
entities are first used. Attributes are the tables' column names, except ``metadata``, which declarative
classes reserve: it is mapped as ``metadata_``.
"""

# No ``from __future__ import annotations`` here: SQLAlchemy would evaluate each ``Mapped[...]`` string again
# when it maps the classes; evaluated once by Python, they cost nothing more.

import datetime
from typing import Any

from sqlalchemy.orm import DeclarativeBase, Mapped

from provstore_sql import tables
from provstore_sql.tables import JsonType, UtcDateTime, metadata_for

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


class Base(DeclarativeBase):
    """Declarative base of the ORM classes, on the metadata of every provstore table."""

    metadata = tables.metadata


class DbUser(Base):
    """A person who creates data; identified by email."""

    __table__ = tables.users

    id: Mapped[int]
    email: Mapped[str]
    first_name: Mapped[str]
    last_name: Mapped[str]
    institution: Mapped[str]


class DbComputer(Base):
    """A machine on which calculations ran."""

    __table__ = tables.computers

    id: Mapped[int]
    uuid: Mapped[str]
    label: Mapped[str]
    hostname: Mapped[str]
    description: Mapped[str]
    scheduler_type: Mapped[str]
    transport_type: Mapped[str]
    metadata_: Mapped[dict[str, Any]] = tables.computers.c.metadata


class DbAuthInfo(Base):
    """Credentials of a user on a computer."""

    __table__ = tables.authinfos

    id: Mapped[int]
    aiidauser_id: Mapped[int]
    dbcomputer_id: Mapped[int]
    metadata_: Mapped[dict[str, Any]] = tables.authinfos.c.metadata
    auth_params: Mapped[dict[str, Any]]
    enabled: Mapped[bool]


class DbGroup(Base):
    """A named set of nodes."""

    __table__ = tables.groups

    id: Mapped[int]
    uuid: Mapped[str]
    label: Mapped[str]
    type_string: Mapped[str]
    time: Mapped[datetime.datetime]
    description: Mapped[str]
    extras: Mapped[dict[str, Any]]
    user_id: Mapped[int]


class DbGroupNode(Base):
    """Membership of a node in a group."""

    __table__ = tables.group_nodes

    id: Mapped[int]
    dbnode_id: Mapped[int]
    dbgroup_id: Mapped[int]


class DbNode(Base):
    """A node of the provenance graph: data or a process, with JSON attributes and extras."""

    __table__ = tables.nodes

    id: Mapped[int]
    uuid: Mapped[str]
    node_type: Mapped[str]
    process_type: Mapped[str | None]
    label: Mapped[str]
    description: Mapped[str]
    ctime: Mapped[datetime.datetime]
    mtime: Mapped[datetime.datetime]
    attributes: Mapped[dict[str, Any] | None]
    extras: Mapped[dict[str, Any] | None]
    repository_metadata: Mapped[dict[str, Any]]
    dbcomputer_id: Mapped[int | None]
    user_id: Mapped[int]


class DbLink(Base):
    """A typed, labelled link from an input node to an output node."""

    __table__ = tables.links

    id: Mapped[int]
    input_id: Mapped[int]
    output_id: Mapped[int]
    label: Mapped[str]
    type: Mapped[str]


class DbComment(Base):
    """A free-text comment by a user on a node."""

    __table__ = tables.comments

    id: Mapped[int]
    uuid: Mapped[str]
    dbnode_id: Mapped[int]
    ctime: Mapped[datetime.datetime]
    mtime: Mapped[datetime.datetime]
    user_id: Mapped[int]
    content: Mapped[str]


class DbLog(Base):
    """A log record attached to a node."""

    __table__ = tables.logs

    id: Mapped[int]
    uuid: Mapped[str]
    time: Mapped[datetime.datetime]
    loggername: Mapped[str]
    levelname: Mapped[str]
    dbnode_id: Mapped[int]
    message: Mapped[str]
    metadata_: Mapped[dict[str, Any]] = tables.logs.c.metadata


class DbSetting(Base):
    """A global variable of the storage (for example ``repository|uuid``)."""

    __table__ = tables.settings

    id: Mapped[int]
    key: Mapped[str]
    val: Mapped[Any]
    description: Mapped[str]
    time: Mapped[datetime.datetime]
