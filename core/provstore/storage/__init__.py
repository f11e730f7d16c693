"""The storage interface: a provenance graph of nodes, links, groups, users, computers, comments and logs."""

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
