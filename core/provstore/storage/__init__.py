"""The storage interface: a provenance graph of nodes, links, groups, users, computers, comments and logs."""

from provstore.storage.abstract import StorageBackend
from provstore.storage.entity_types import EntityTypes

__all__ = ["StorageBackend", "EntityTypes"]
