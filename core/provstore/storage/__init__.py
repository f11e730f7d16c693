"""The storage interface: a provenance graph of nodes, links, groups, users, computers, comments and logs.

The names are imported on first access (PEP 562): opening a storage needs :class:`StorageBackend` only, not
the entity API, which loads when a collection is first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from provstore.storage.abstract import StorageBackend
    from provstore.storage.entities import (
        AuthInfo,
        Comment,
        Computer,
        Entity,
        EntityCollection,
        Group,
        LinkTriple,
        LinkType,
        Log,
        Node,
        NodeKind,
        User,
    )
    from provstore.storage.entity_types import EntityTypes

_MODULES = {
    "AuthInfo": "entities",
    "Comment": "entities",
    "Computer": "entities",
    "Entity": "entities",
    "EntityCollection": "entities",
    "EntityTypes": "entity_types",
    "Group": "entities",
    "LinkTriple": "entities",
    "LinkType": "entities",
    "Log": "entities",
    "Node": "entities",
    "NodeKind": "entities",
    "StorageBackend": "abstract",
    "User": "entities",
}
"""Public name -> submodule of :mod:`provstore.storage` defining it."""

__all__ = [
    "AuthInfo",
    "Comment",
    "Computer",
    "Entity",
    "EntityCollection",
    "EntityTypes",
    "Group",
    "LinkTriple",
    "LinkType",
    "Log",
    "Node",
    "NodeKind",
    "StorageBackend",
    "User",
]


def __getattr__(name: str) -> Any:
    """Import the submodule defining ``name`` on first access and cache the name in this module."""
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_MODULES})
