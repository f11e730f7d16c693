"""Log records of nodes in an SQL storage."""

from __future__ import annotations

from provstore.storage.entities import Log

from provstore_sql.entities.base import SqlCollection, SqlEntity
from provstore_sql.entities.nodes import SqlNode
from provstore_sql.models import DbLog

__all__ = ["SqlLog", "SqlLogCollection"]


class SqlLog(SqlEntity, Log):
    """A log record stored in ``db_dblog``."""

    MODEL = DbLog
    FIELDS = {
        **{name: name for name in ("uuid", "time", "loggername", "levelname", "message")},
        "node": "dbnode_id",
        "metadata": "metadata_",
    }
    REFERENCES = {"node": SqlNode}
    REQUIRED = ("node", "loggername", "levelname")


class SqlLogCollection(SqlCollection[SqlLog]):
    """The log records."""

    ENTITY = SqlLog
