"""Maintenance and information of an open SQL storage: ``get_info``, ``maintain``, unreferenced repository objects."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from provstore_sql import tables
from provstore_sql.migrator import SqlMigrator

if TYPE_CHECKING:
    from provstore.config import Profile
    from provstore.repository import AbstractRepositoryBackend

    from provstore_sql.dialect import SqlDialect
    from provstore_sql.locking import ProfileLock
    from provstore_sql.sessions import SessionManager

__all__ = ["StorageMaintenance"]

_COUNTED = {
    "users": tables.users,
    "computers": tables.computers,
    "authinfos": tables.authinfos,
    "groups": tables.groups,
    "nodes": tables.nodes,
    "links": tables.links,
    "comments": tables.comments,
    "logs": tables.logs,
}


class StorageMaintenance:
    """What one open storage reports about itself and the housekeeping of its database and repository."""

    def __init__(
        self,
        sessions: SessionManager,
        dialect: SqlDialect,
        profile: Profile,
        repository: AbstractRepositoryBackend,
        lock: ProfileLock,
    ) -> None:
        self.sessions = sessions
        self.dialect = dialect
        self.profile = profile
        self.repository = repository
        self.lock = lock

    def info(self, backend_name: str, detailed: bool = False) -> dict[str, Any]:
        """Return the schema version, entity counts (by type when ``detailed``) and repository information."""
        node, link = tables.nodes, tables.links
        with self.sessions.connection() as connection:
            entities: dict[str, Any] = {
                name: connection.scalar(select(func.count()).select_from(table)) for name, table in _COUNTED.items()
            }
            if detailed:
                entities["node_types"] = dict(
                    connection.execute(select(node.c.node_type, func.count()).group_by(node.c.node_type)).all()
                )
                entities["link_types"] = dict(
                    connection.execute(select(link.c.type, func.count()).group_by(link.c.type)).all()
                )
            schema_version = self.dialect.schema_version(SqlMigrator(connection, self.profile.name))
        return {
            "backend": backend_name,
            "schema_version": schema_version,
            "database": self.dialect.database_info(self.sessions.engine, self.profile),
            "entities": entities,
            "repository": self.repository.get_info(detailed),
        }

    def unreferenced_keys(self) -> set[str]:
        """Return the keys of repository objects that no node's ``repository_metadata`` references."""
        keys = set(self.repository.list_objects())
        if not keys:
            return keys
        referenced: set[str] = set()
        statement = select(tables.nodes.c.repository_metadata).execution_options(yield_per=1000)
        with self.sessions.connection() as connection:
            for (metadata,) in connection.execute(statement):
                _collect_keys(metadata or {}, referenced)
        return keys - referenced

    def maintain(self, full: bool = False, dry_run: bool = False, **kwargs: Any) -> dict[str, Any]:
        """Maintain repository and database; ``full`` also deletes unreferenced objects and repacks.

        Live maintenance (``full=False``) only runs operations that are safe while other processes
        use the profile. ``full=True`` holds the exclusive profile lock for its whole duration.

        :raises LockedProfileError: with ``full=True`` while another process uses the profile.
        """
        if not full:
            return {
                "repository": self.repository.maintain(dry_run=dry_run, live=True, **kwargs),
                "database": self._maintain_database(full=False, dry_run=dry_run),
            }
        self.sessions.end_implicit_transaction()  # before taking exclusive access
        with self.lock.exclusive():
            unreferenced = sorted(self.unreferenced_keys())
            self.sessions.end_implicit_transaction()
            if unreferenced and not dry_run:
                self.repository.delete_objects(unreferenced)
            return {
                "unreferenced_objects": {"count": len(unreferenced), "deleted": bool(unreferenced) and not dry_run},
                "repository": self.repository.maintain(dry_run=dry_run, live=False, **kwargs),
                "database": self._maintain_database(full=True, dry_run=dry_run),
            }

    def _maintain_database(self, full: bool, dry_run: bool) -> dict[str, Any]:
        """Run the dialect's housekeeping, this thread's connection given back (VACUUM needs no open transaction)."""
        if not dry_run:
            self.sessions.release_thread_connection()
        return self.dialect.maintain_database(self.sessions.engine, full=full, dry_run=dry_run)


def _collect_keys(metadata: dict[str, Any], keys: set[str]) -> None:
    """Add the repository keys of a ``repository_metadata`` tree (``{"o": {name: {"k": key} | subtree}}``)."""
    stack = [metadata]
    while stack:
        node = stack.pop()
        key = node.get("k")
        if key is not None:
            keys.add(key)
        stack.extend(child for child in (node.get("o") or {}).values() if isinstance(child, dict))
