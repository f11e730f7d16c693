"""The entities a query can select, their fields, and the relationships that join one entity to another."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from provstore.exceptions import ValidationError
from sqlalchemy import ColumnElement, FromClause, Table

from provstore_sql import tables

__all__ = ["ENTITIES", "LINK_TYPES", "RELATIONSHIPS", "Relationship", "entity_table", "relationship"]

ENTITIES: dict[str, Table] = {
    "node": tables.nodes,
    "user": tables.users,
    "group": tables.groups,
    "computer": tables.computers,
    "comment": tables.comments,
    "log": tables.logs,
    "authinfo": tables.authinfos,
}
"""Entity name → table; field names are the table's column names (``metadata``, not ``metadata_``)."""

LINK_TABLE: Table = tables.links
GROUP_NODE_TABLE: Table = tables.group_nodes


def entity_table(entity: str) -> tuple[str, Table]:
    """Return the plain name (``EntityTypes`` members are accepted too) and the table of ``entity``.

    :raises ValidationError: the name is not a queryable entity.
    """
    for name, table in ENTITIES.items():
        if isinstance(entity, str) and entity == name:
            return name, table
    raise ValidationError(f"unknown entity {entity!r}; valid entities: {', '.join(ENTITIES)}")


JoinCondition = Callable[[FromClause, FromClause], ColumnElement[bool]]


@dataclass(frozen=True)
class Relationship:
    """How an appended entity (``this``) relates to an entity appended earlier (``other``).

    ``via`` names an association table joined between the two (the link or group-membership table);
    ``to_via`` joins it to ``other`` and ``from_via`` joins ``this`` to it. Without ``via``, ``direct``
    joins ``this`` to ``other``.
    """

    other: str
    direct: JoinCondition | None = None
    via: Table | None = None
    to_via: JoinCondition | None = None
    from_via: JoinCondition | None = None


def _column_eq(this_column: str, other_column: str) -> JoinCondition:
    return lambda this, other: this.c[this_column] == other.c[other_column]


RELATIONSHIPS: dict[tuple[str, str], Relationship] = {
    # node → node through a link; with_incoming=T: T is an input of this node (this node is T's output)
    ("node", "with_incoming"): Relationship(
        "node",
        via=LINK_TABLE,
        to_via=lambda link, other: link.c.input_id == other.c.id,
        from_via=lambda this, link: this.c.id == link.c.output_id,
    ),
    ("node", "with_outgoing"): Relationship(
        "node",
        via=LINK_TABLE,
        to_via=lambda link, other: link.c.output_id == other.c.id,
        from_via=lambda this, link: this.c.id == link.c.input_id,
    ),
    ("node", "with_group"): Relationship(
        "group",
        via=GROUP_NODE_TABLE,
        to_via=lambda member, other: member.c.dbgroup_id == other.c.id,
        from_via=lambda this, member: this.c.id == member.c.dbnode_id,
    ),
    ("node", "with_user"): Relationship("user", direct=_column_eq("user_id", "id")),
    ("node", "with_computer"): Relationship("computer", direct=_column_eq("dbcomputer_id", "id")),
    ("node", "with_comment"): Relationship("comment", direct=_column_eq("id", "dbnode_id")),
    ("node", "with_log"): Relationship("log", direct=_column_eq("id", "dbnode_id")),
    ("group", "with_node"): Relationship(
        "node",
        via=GROUP_NODE_TABLE,
        to_via=lambda member, other: member.c.dbnode_id == other.c.id,
        from_via=lambda this, member: this.c.id == member.c.dbgroup_id,
    ),
    ("group", "with_user"): Relationship("user", direct=_column_eq("user_id", "id")),
    ("user", "with_node"): Relationship("node", direct=_column_eq("id", "user_id")),
    ("user", "with_group"): Relationship("group", direct=_column_eq("id", "user_id")),
    ("user", "with_comment"): Relationship("comment", direct=_column_eq("id", "user_id")),
    ("user", "with_authinfo"): Relationship("authinfo", direct=_column_eq("id", "aiidauser_id")),
    ("computer", "with_node"): Relationship("node", direct=_column_eq("id", "dbcomputer_id")),
    ("computer", "with_authinfo"): Relationship("authinfo", direct=_column_eq("id", "dbcomputer_id")),
    ("comment", "with_node"): Relationship("node", direct=_column_eq("dbnode_id", "id")),
    ("comment", "with_user"): Relationship("user", direct=_column_eq("user_id", "id")),
    ("log", "with_node"): Relationship("node", direct=_column_eq("dbnode_id", "id")),
    ("authinfo", "with_user"): Relationship("user", direct=_column_eq("aiidauser_id", "id")),
    ("authinfo", "with_computer"): Relationship("computer", direct=_column_eq("dbcomputer_id", "id")),
}
"""(entity, keyword) → relationship; the keyword names the kind of entity the tag it is given must refer to."""

LINK_TYPES = ("create", "return", "input_calc", "input_work", "call_calc", "call_work")
"""Every link type of the schema."""


def relationship(entity: str, keyword: str) -> Relationship:
    """Return how ``entity`` joins through ``keyword``.

    :raises ValidationError: ``entity`` has no such relationship (the message lists the ones it has).
    """
    found = RELATIONSHIPS.get((entity, keyword))
    if found is None:
        valid = [name for (owner, name) in RELATIONSHIPS if owner == entity]
        raise ValidationError(f"{entity} has no relationship {keyword!r}; valid: {', '.join(valid)}")
    return found
