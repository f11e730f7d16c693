"""The tables of the query language's entity kinds, and the SQL joins of its relationships."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, FromClause, Table

from provstore_sql import tables

__all__ = ["GROUP_NODE_TABLE", "JOINS", "LINK_TABLE", "TABLES", "Join"]

LINK_TABLE: Table = tables.links
GROUP_NODE_TABLE: Table = tables.group_nodes

TABLES: dict[str, Table] = {
    "node": tables.nodes,
    "user": tables.users,
    "group": tables.groups,
    "computer": tables.computers,
    "comment": tables.comments,
    "log": tables.logs,
    "authinfo": tables.authinfos,
    "link": LINK_TABLE,
}
"""Entity kind (:data:`provstore.query.ENTITIES` and ``link``) → table; field names are its column names."""

JoinCondition = Callable[[FromClause, FromClause], ColumnElement[bool]]


@dataclass(frozen=True)
class Join:
    """How an appended entity (``this``) joins an entity appended earlier (``other``).

    ``via`` names an association table joined between the two (the link or group-membership table);
    ``to_via`` joins it to ``other`` and ``from_via`` joins ``this`` to it. Without ``via``, ``direct``
    joins ``this`` to ``other``.
    """

    direct: JoinCondition | None = None
    via: Table | None = None
    to_via: JoinCondition | None = None
    from_via: JoinCondition | None = None


def _column_eq(this_column: str, other_column: str) -> Join:
    return Join(direct=lambda this, other: this.c[this_column] == other.c[other_column])


def _member(this_column: str, other_column: str) -> Join:
    return Join(
        via=GROUP_NODE_TABLE,
        to_via=lambda member, other: member.c[other_column] == other.c.id,
        from_via=lambda this, member: this.c.id == member.c[this_column],
    )


JOINS: dict[tuple[str, str], Join] = {
    # node → node through a link; with_incoming=T: T is an input of this node (this node is T's output)
    ("node", "with_incoming"): Join(
        via=LINK_TABLE,
        to_via=lambda link, other: link.c.input_id == other.c.id,
        from_via=lambda this, link: this.c.id == link.c.output_id,
    ),
    ("node", "with_outgoing"): Join(
        via=LINK_TABLE,
        to_via=lambda link, other: link.c.output_id == other.c.id,
        from_via=lambda this, link: this.c.id == link.c.input_id,
    ),
    ("node", "with_group"): _member("dbnode_id", "dbgroup_id"),
    ("node", "with_user"): _column_eq("user_id", "id"),
    ("node", "with_computer"): _column_eq("dbcomputer_id", "id"),
    ("node", "with_comment"): _column_eq("id", "dbnode_id"),
    ("node", "with_log"): _column_eq("id", "dbnode_id"),
    ("group", "with_node"): _member("dbgroup_id", "dbnode_id"),
    ("group", "with_user"): _column_eq("user_id", "id"),
    ("user", "with_node"): _column_eq("id", "user_id"),
    ("user", "with_group"): _column_eq("id", "user_id"),
    ("user", "with_comment"): _column_eq("id", "user_id"),
    ("user", "with_authinfo"): _column_eq("id", "aiidauser_id"),
    ("computer", "with_node"): _column_eq("id", "dbcomputer_id"),
    ("computer", "with_authinfo"): _column_eq("id", "dbcomputer_id"),
    ("comment", "with_node"): _column_eq("dbnode_id", "id"),
    ("comment", "with_user"): _column_eq("user_id", "id"),
    ("log", "with_node"): _column_eq("dbnode_id", "id"),
    ("authinfo", "with_user"): _column_eq("aiidauser_id", "id"),
    ("authinfo", "with_computer"): _column_eq("dbcomputer_id", "id"),
}
"""(entity, keyword) of :data:`provstore.query.RELATIONSHIPS` → the SQL join."""
