"""Comments on nodes in an SQL storage."""

from __future__ import annotations

from provstore.storage.entities import Comment

from provstore_sql.entities.base import SqlCollection, SqlEntity
from provstore_sql.entities.nodes import SqlNode
from provstore_sql.entities.users import SqlUser
from provstore_sql.models import DbComment

__all__ = ["SqlComment", "SqlCommentCollection"]


class SqlComment(SqlEntity, Comment):
    """A comment stored in ``db_dbcomment``; changing it updates ``mtime``."""

    MODEL = DbComment
    FIELDS = {
        **{name: name for name in ("uuid", "content", "ctime", "mtime")},
        "node": "dbnode_id",
        "user": "user_id",
    }
    REFERENCES = {"node": SqlNode, "user": SqlUser}
    REQUIRED = ("node",)
    TOUCH_FIELD = "mtime"


class SqlCommentCollection(SqlCollection[SqlComment]):
    """The comments."""

    ENTITY = SqlComment
