"""Nodes of the provenance graph in an SQL storage."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from provstore.exceptions import IntegrityError, ValidationError
from provstore.storage.entities import LinkTriple, LinkType, Node
from provstore.text import plural

from provstore_sql.entities import links
from provstore_sql.entities.base import SqlCollection, SqlEntity
from provstore_sql.entities.computers import SqlComputer
from provstore_sql.entities.users import SqlUser
from provstore_sql.models import DbLink, DbNode

if TYPE_CHECKING:
    from provstore.repository import AbstractRepositoryBackend
    from sqlalchemy.orm import Session

__all__ = ["SqlNode", "SqlNodeCollection"]


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

    def load_field(self, name: str) -> Any:
        value = super().load_field(name)
        if value is None and name in ("attributes", "extras"):  # nullable columns (rows from bulk_insert)
            return {}
        return value

    def _validate(self, name: str, value: Any) -> Any:
        value = super()._validate(name, value)
        if name == "node_type" and not value:
            raise ValidationError("node_type must not be empty")
        return value

    def get_repository(self) -> AbstractRepositoryBackend:
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

    def _check_deletable(self, session: Session, pk: int) -> None:
        count = session.scalar(sa.select(sa.func.count()).where(sa.or_(DbLink.input_id == pk, DbLink.output_id == pk)))
        if count:
            raise IntegrityError(
                f"cannot delete node {pk}: it has {plural(count, 'link')}; use backend.delete_nodes_and_connections()"
            )
