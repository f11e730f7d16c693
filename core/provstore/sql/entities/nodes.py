"""Nodes of the provenance graph in an SQL storage."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from provstore.exceptions import IntegrityError, NotExistent, ValidationError
from provstore.sql.bulk import batched
from provstore.sql.entities import links
from provstore.sql.entities.base import SqlCollection, SqlEntity, write_transaction
from provstore.sql.entities.computers import SqlComputer
from provstore.sql.entities.users import SqlUser
from provstore.sql.models import DbComment, DbLink, DbLog, DbNode
from provstore.storage.entities import LinkTriple, LinkType, Node

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from provstore.repository import AbstractRepositoryBackend

__all__ = ["SqlNode", "SqlNodeCollection", "delete_loaded_rows"]


class SqlNode(SqlEntity, Node):
    """A node stored in ``db_dbnode``; changing it updates ``mtime``."""

    MODEL = DbNode
    FIELDS = {
        **{
            name: name
            for name in (
                "uuid",
                "node_type",
                "process_type",
                "label",
                "description",
                "ctime",
                "mtime",
                "attributes",
                "extras",
                "repository_metadata",
            )
        },
        "user": "user_id",
        "computer": "dbcomputer_id",
    }
    REFERENCES = {"user": SqlUser, "computer": SqlComputer}
    REQUIRED = ("node_type",)
    TOUCH_FIELD = "mtime"

    def _get_field(self, name: str) -> Any:
        value = super()._get_field(name)
        if value is None and name in ("attributes", "extras"):  # nullable columns (rows from bulk_insert)
            return {}
        return value

    def _validate(self, name: str, value: Any) -> Any:
        value = super()._validate(name, value)
        if name == "node_type" and not value:
            raise ValidationError("node_type must not be empty")
        return value

    def _repository(self) -> AbstractRepositoryBackend:
        return self._backend.get_repository()

    def add_incoming(self, source: Node, link_type: LinkType | str, link_label: str) -> None:
        """Add a link from ``source`` to this node after checking every link rule."""
        links.add_link(self._backend, source, self, link_type, link_label)

    def get_incoming(self, link_type: LinkType | str | None = None, link_label: str | None = None) -> list[LinkTriple]:
        """Return the incoming links, oldest first."""
        return links.get_links(self, incoming=True, link_type=link_type, link_label=link_label)

    def get_outgoing(self, link_type: LinkType | str | None = None, link_label: str | None = None) -> list[LinkTriple]:
        """Return the outgoing links, oldest first."""
        return links.get_links(self, incoming=False, link_type=link_type, link_label=link_label)


class SqlNodeCollection(SqlCollection[SqlNode]):
    """The nodes; a node with links can only go with ``backend.delete_nodes_and_connections``."""

    ENTITY = SqlNode

    def delete(self, pk: int) -> None:
        """Delete the node ``pk`` (it must have no links) with its comments, logs and group memberships.

        Its loaded comments and logs are deleted through the session too, so their entities know it.
        """
        with write_transaction(self._backend, f"delete node {pk}") as session:
            if session.get(DbNode, pk) is None:
                raise NotExistent(f"no node with pk={pk!r}")
            self._check_deletable(session, pk)
            delete_loaded_rows(session, frozenset([pk]))  # the node is loaded now: it goes too

    def _check_deletable(self, session: Session, pk: int) -> None:
        count = session.scalar(sa.select(sa.func.count()).where(sa.or_(DbLink.input_id == pk, DbLink.output_id == pk)))
        if count:
            raise IntegrityError(
                f"cannot delete node {pk}: it has {count} link(s); use backend.delete_nodes_and_connections()"
            )


LOOKUP_CHUNK_SIZE = 500
"""Ids per ``IN`` list of the statements of :func:`delete_loaded_rows`."""


def delete_loaded_rows(session: Session, node_pks: Collection[int]) -> None:
    """Delete through ``session`` its loaded nodes among ``node_pks`` and its loaded comments and logs of them.

    Called by ``delete_nodes_and_connections`` before its bulk DELETEs, so that the session knows these
    objects as deleted, exactly as after ``collection.delete(pk)``: their entities report ``is_stored``
    False (True again if the transaction rolls back) and refuse writes, instead of passing for stored rows.
    Comments and logs are matched by a lookup of their ``dbnode_id`` (loaded objects may be expired); the
    rows go in ORM-enabled DELETEs by id, whose ``fetch`` synchronisation marks the objects deleted.
    """
    loaded: dict[type[Any], list[int]] = {DbNode: [], DbComment: [], DbLog: []}
    for state in session.identity_map.all_states():
        ids = loaded.get(state.class_)
        if ids is not None:
            ids.append(state.identity[0])
    doomed = {DbNode: [pk for pk in loaded[DbNode] if pk in node_pks], DbComment: [], DbLog: []}
    for model in (DbComment, DbLog):
        for chunk in batched(loaded[model], LOOKUP_CHUNK_SIZE):
            rows = session.execute(sa.select(model.id, model.dbnode_id).where(model.id.in_(chunk)))
            doomed[model].extend(pk for pk, node_pk in rows if node_pk in node_pks)
    for model in (DbComment, DbLog, DbNode):  # nodes last: their ON DELETE CASCADE would take the others first
        for chunk in batched(doomed[model], LOOKUP_CHUNK_SIZE):
            statement = sa.delete(model).where(model.id.in_(chunk))
            session.execute(statement, execution_options={"synchronize_session": "fetch"})
