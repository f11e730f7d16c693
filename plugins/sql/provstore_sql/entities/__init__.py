"""SQLAlchemy implementation of the entity collections; each is built as ``SqlXCollection(backend)``.

The backend must provide ``get_session()``, ``transaction()``, ``in_transaction``,
``get_repository()``, ``default_user`` and ``profile``.
"""

from __future__ import annotations

from typing import Any

from provstore_sql.entities.authinfos import SqlAuthInfo, SqlAuthInfoCollection
from provstore_sql.entities.base import SqlCollection, SqlEntity
from provstore_sql.entities.comments import SqlComment, SqlCommentCollection
from provstore_sql.entities.computers import SqlComputer, SqlComputerCollection
from provstore_sql.entities.groups import SqlGroup, SqlGroupCollection
from provstore_sql.entities.logs import SqlLog, SqlLogCollection
from provstore_sql.entities.nodes import SqlNode, SqlNodeCollection
from provstore_sql.entities.users import SqlUser, SqlUserCollection
from provstore_sql.models import Base

__all__ = [
    "SqlAuthInfo",
    "SqlAuthInfoCollection",
    "SqlCollection",
    "SqlComment",
    "SqlCommentCollection",
    "SqlComputer",
    "SqlComputerCollection",
    "SqlEntity",
    "SqlGroup",
    "SqlGroupCollection",
    "SqlLog",
    "SqlLogCollection",
    "SqlNode",
    "SqlNodeCollection",
    "SqlUser",
    "SqlUserCollection",
    "entity_from_model",
]

_ENTITY_OF_MODEL: dict[type[Base], type[SqlEntity]] = {
    cls.MODEL: cls for cls in (SqlUser, SqlComputer, SqlAuthInfo, SqlGroup, SqlNode, SqlComment, SqlLog)
}


def entity_from_model(backend: Any, model: Base) -> SqlEntity:
    """Return the entity of ``backend`` wrapping a model instance (e.g. a query result row).

    :raises TypeError: the model is not one of an entity (links, memberships and settings are not).
    """
    try:
        return _ENTITY_OF_MODEL[type(model)](backend, model)
    except KeyError:
        raise TypeError(f"{type(model).__name__} rows are not entities") from None
