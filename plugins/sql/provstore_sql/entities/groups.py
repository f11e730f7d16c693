"""Groups of nodes in an SQL storage; membership changes are one statement per chunk of nodes."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from provstore.exceptions import ValidationError
from provstore.storage.entities import Group, Node

from provstore_sql.entities.base import SqlCollection, SqlEntity, write_transaction
from provstore_sql.entities.nodes import SqlNode
from provstore_sql.entities.users import SqlUser
from provstore_sql.models import DbGroup, DbGroupNode, DbNode

__all__ = ["SqlGroup", "SqlGroupCollection"]

CHUNK_SIZE = 500
"""Node pks per membership statement (keeps parameter lists far below every driver's limit)."""


class SqlGroup(SqlEntity, Group):
    """A group stored in ``db_dbgroup``; members in ``db_dbgroup_dbnodes``."""

    MODEL = DbGroup
    FIELDS = {
        **{name: name for name in ("uuid", "label", "type_string", "description", "time", "extras")},
        "user": "user_id",
    }
    REFERENCES = {"user": SqlUser}
    REQUIRED = ("label",)

    def _member_pks(self, nodes: Iterable[Node]) -> list[int]:
        if not self.is_stored:
            raise ValidationError("store the group before changing its nodes")
        if isinstance(nodes, Node):
            nodes = [nodes]
        pks = set()
        for node in nodes:
            if not isinstance(node, SqlNode) or not node.is_stored or node.backend is not self._backend:
                raise ValidationError(f"group members must be stored nodes of this storage, got {node!r}")
            pks.add(node.pk)
        return sorted(pks)

    def add_nodes(self, nodes: Iterable[Node]) -> None:
        """Add stored nodes in one insert per chunk; nodes already in the group are skipped."""
        pks = self._member_pks(nodes)
        group_id = sa.cast(sa.literal(self.pk), sa.Integer)
        with write_transaction(self._backend, f"add nodes to group {self.pk}") as session:
            for start in range(0, len(pks), CHUNK_SIZE):
                already = sa.select(DbGroupNode.id).where(
                    DbGroupNode.dbgroup_id == self.pk, DbGroupNode.dbnode_id == DbNode.id
                )
                new_members = sa.select(group_id, DbNode.id).where(
                    DbNode.id.in_(pks[start : start + CHUNK_SIZE]), ~already.exists()
                )
                session.execute(sa.insert(DbGroupNode).from_select(["dbgroup_id", "dbnode_id"], new_members))

    def remove_nodes(self, nodes: Iterable[Node]) -> None:
        """Remove nodes in one delete per chunk; nodes not in the group are ignored."""
        pks = self._member_pks(nodes)
        with write_transaction(self._backend, f"remove nodes from group {self.pk}") as session:
            for start in range(0, len(pks), CHUNK_SIZE):
                session.execute(
                    sa.delete(DbGroupNode).where(
                        DbGroupNode.dbgroup_id == self.pk, DbGroupNode.dbnode_id.in_(pks[start : start + CHUNK_SIZE])
                    )
                )

    @property
    def nodes(self) -> list[Node]:
        """Return the member nodes by primary key."""
        if not self.is_stored:
            return []
        statement = (
            sa.select(DbNode)
            .join(DbGroupNode, DbGroupNode.dbnode_id == DbNode.id)
            .where(DbGroupNode.dbgroup_id == self.pk)
            .order_by(DbNode.id)
        )
        return [SqlNode(self._backend, model) for model in self._backend.get_session().scalars(statement)]

    def count(self) -> int:
        """Return the number of member nodes."""
        if not self.is_stored:
            return 0
        statement = sa.select(sa.func.count()).where(DbGroupNode.dbgroup_id == self.pk)
        return self._backend.get_session().scalar(statement)


class SqlGroupCollection(SqlCollection[SqlGroup]):
    """The groups; deleting one removes its memberships, never its nodes."""

    ENTITY = SqlGroup
