"""Computers in an SQL storage."""

from __future__ import annotations

from typing import TYPE_CHECKING

from provstore.storage.entities import Computer

from provstore_sql.entities.base import SqlCollection, SqlEntity
from provstore_sql.models import DbComputer, DbNode

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = ["SqlComputer", "SqlComputerCollection"]


class SqlComputer(SqlEntity, Computer):
    """A computer stored in ``db_dbcomputer``."""

    MODEL = DbComputer
    FIELDS = {
        **{name: name for name in ("uuid", "label", "hostname", "description", "scheduler_type", "transport_type")},
        "metadata": "metadata_",
    }
    REQUIRED = ("label",)


class SqlComputerCollection(SqlCollection[SqlComputer]):
    """The computers; deleting one that nodes ran on is refused (its authinfos go with it)."""

    ENTITY = SqlComputer

    def _check_deletable(self, session: Session, pk: int) -> None:
        self._refuse_if_referenced(session, pk, DbNode.dbcomputer_id, "nodes")
