"""The kinds of entities a storage holds, as accepted by the bulk operations."""

from __future__ import annotations

from enum import Enum

__all__ = ["EntityTypes"]


class EntityTypes(str, Enum):
    """Entity kinds accepted by :meth:`StorageBackend.bulk_insert` and :meth:`StorageBackend.bulk_update`."""

    USER = "user"
    COMPUTER = "computer"
    AUTHINFO = "authinfo"
    GROUP = "group"
    NODE = "node"
    COMMENT = "comment"
    LOG = "log"
    LINK = "link"
    GROUP_NODE = "group_node"
