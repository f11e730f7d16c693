"""Users in an SQL storage."""

from __future__ import annotations

from typing import TYPE_CHECKING

from provstore.storage.entities import User

from provstore_sql.entities.base import SqlCollection, SqlEntity
from provstore_sql.models import DbNode, DbUser

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = ["SqlUser", "SqlUserCollection"]


class SqlUser(SqlEntity, User):
    """A user stored in ``db_dbuser``."""

    MODEL = DbUser
    FIELDS = {name: name for name in ("email", "first_name", "last_name", "institution")}
    REQUIRED = ("email",)


class SqlUserCollection(SqlCollection[SqlUser]):
    """The users; deleting one that owns nodes is refused (its groups, comments and authinfos go with it)."""

    ENTITY = SqlUser

    def _check_deletable(self, session: Session, pk: int) -> None:
        self._refuse_if_referenced(session, pk, DbNode.user_id, "nodes")
