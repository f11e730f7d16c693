"""Abstract interface of a storage backend: the provenance graph plus the repository that holds its files.

A concrete backend is a subclass registered by a plugin (see :mod:`provstore.hookspecs`). It is
built from a :class:`~provstore.config.Profile`; the class methods manage the storage's schema
without opening it.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

from provstore.storage.entity_types import EntityTypes

if TYPE_CHECKING:
    from provstore.config import Profile
    from provstore.repository import AbstractRepositoryBackend

__all__ = ["StorageBackend"]


class StorageBackend(ABC):
    """A provenance graph store bound to one profile; use as a context manager to close it."""

    class Configuration(BaseModel):
        """Settings of this backend as stored in a profile; subclasses replace it with their own model."""

    cli_exposed: ClassVar[bool] = True
    """Whether ``provstore profile setup`` offers this backend (False for throwaway backends)."""

    default_repository_backend: ClassVar[str | None] = None
    """Name of the repository backend used when the profile names none (None: holds no files)."""

    def __init__(self, profile: Profile, repository: AbstractRepositoryBackend | None = None) -> None:
        """Open the storage of ``profile``, validating it; ``repository`` holds its files (None: ``repository_for``).

        :raises UnreachableStorage: the storage cannot be accessed.
        :raises IncompatibleStorageSchema: the schema is not at the version of this code.
        :raises CorruptStorage: the storage is internally inconsistent.
        """
        self._profile = profile

    @property
    def profile(self) -> Profile:
        """Return the profile this storage belongs to."""
        return self._profile

    # ------------------------------------------------------------------ repository
    @classmethod
    def default_repository_config(cls, profile: Profile) -> dict[str, Any]:
        """Return the configuration of :attr:`default_repository_backend` for a profile naming no repository."""
        return {}

    @classmethod
    def repository_for(cls, profile: Profile) -> AbstractRepositoryBackend:
        """Return the profile's repository backend, built from its configuration.

        The profile's ``repository`` section names the backend and its configuration; without one the
        backend is :attr:`default_repository_backend` configured by :meth:`default_repository_config`.

        :raises ConfigurationError: no repository backend is named, or its configuration is invalid.
        :raises PluginNotFound: no installed plugin provides the named repository backend.
        """
        from provstore.exceptions import ConfigurationError
        from provstore.plugins import get_plugin_manager

        section = profile.dictionary.get("repository")
        if section is not None:
            name, config = section["backend"], dict(section.get("config") or {})
        else:
            name, config = cls.default_repository_backend, cls.default_repository_config(profile)
        if name is None:
            raise ConfigurationError(f"profile {profile.name!r}: storage backend {cls.__name__} names no repository")
        return get_plugin_manager().get_repository_backend(name).from_config(config)

    # ------------------------------------------------------------------ schema management
    @classmethod
    @abstractmethod
    def version_head(cls) -> str:
        """Return the head schema version of this backend type."""

    @classmethod
    @abstractmethod
    def version_profile(cls, profile: Profile) -> str | None:
        """Return the schema version of the profile's storage, or None if empty/uninitialised.

        :raises UnreachableStorage: the storage cannot be accessed.
        """

    @classmethod
    @abstractmethod
    def initialise(
        cls, profile: Profile, reset: bool = False, *, repository: AbstractRepositoryBackend | None = None
    ) -> bool:
        """Create the storage at the head schema; return True if it did, False if already initialised.

        With ``reset=True`` an existing storage is destroyed (with all its data) and recreated.
        ``repository`` is the one to create with it (None: :meth:`repository_for`).
        """

    @classmethod
    @abstractmethod
    def migrate(cls, profile: Profile) -> None:
        """Migrate the profile's storage to the head schema (no-op when already there).

        :raises StorageMigrationError: the storage is not initialised.
        """

    # --------------------------------------------------------------------- lifecycle
    @abstractmethod
    def close(self) -> None:
        """Close the storage access; the instance cannot be used afterwards."""

    @property
    @abstractmethod
    def is_closed(self) -> bool:
        """Return whether the storage is closed."""

    def __enter__(self) -> StorageBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abstractmethod
    def _clear(self) -> None:
        """Remove all data (tests only); the schema and the repository identity stay."""

    def __str__(self) -> str:
        return f"{type(self).__name__} for profile {self._profile.name!r}"

    __repr__ = __str__

    # ------------------------------------------------------------------- collections
    @property
    @abstractmethod
    def authinfos(self) -> Any:
        """Return the collection of authorisation infos (user credentials on a computer)."""

    @property
    @abstractmethod
    def comments(self) -> Any:
        """Return the collection of comments."""

    @property
    @abstractmethod
    def computers(self) -> Any:
        """Return the collection of computers."""

    @property
    @abstractmethod
    def groups(self) -> Any:
        """Return the collection of groups."""

    @property
    @abstractmethod
    def logs(self) -> Any:
        """Return the collection of logs."""

    @property
    @abstractmethod
    def nodes(self) -> Any:
        """Return the collection of nodes."""

    @property
    @abstractmethod
    def users(self) -> Any:
        """Return the collection of users."""

    @abstractmethod
    def query(self) -> Any:
        """Return a new query builder on this storage."""

    # ------------------------------------------------------------------- transactions
    @abstractmethod
    def transaction(self) -> contextlib.AbstractContextManager[Any]:
        """Open a transaction as a context manager; nested calls create savepoints.

        An exception inside the block rolls back that level only and is re-raised.
        """

    @property
    @abstractmethod
    def in_transaction(self) -> bool:
        """Return whether a transaction is currently active."""

    # ------------------------------------------------------------------ bulk operations
    @abstractmethod
    def bulk_insert(
        self,
        entity_type: EntityTypes,
        rows: Iterable[dict[str, Any]],
        allow_defaults: bool = False,
        *,
        exclusive_load: bool = False,
    ) -> list[int]:
        """Insert rows of one entity type in one transaction and return their new pks in input order.

        :param rows: dicts of the model's fields except ``id``.
        :param allow_defaults: if False every row must give every field; else defaults fill the gaps.
        :param exclusive_load: the caller owns the target for this call (no other process needs it meanwhile):
            the backend may then take exclusive locks and rebuild indexes afterwards to load faster.
            Backends without such a mode ignore it; the result and the errors are the same either way.
        :raises IntegrityError: a row has unknown or missing keys or violates a constraint; nothing is written.
        """

    @abstractmethod
    def bulk_update(self, entity_type: EntityTypes, rows: Iterable[dict[str, Any]]) -> None:
        """Update rows, each a dict holding ``id`` and the fields to change, in one transaction.

        :raises IntegrityError: a row lacks ``id`` or has unknown keys; nothing is written.
        """

    @abstractmethod
    def delete_nodes_and_connections(self, pks_to_delete: Sequence[int]) -> None:
        """Delete the nodes and every link, group membership, comment and log attached to them.

        Entities of this storage still holding a deleted node, comment or log report ``is_stored`` False
        and refuse writes and ``store()`` with :class:`~provstore.exceptions.NotExistent`.

        :raises TransactionError: if called outside :meth:`transaction`.
        """

    # -------------------------------------------------------------------- settings
    @abstractmethod
    def get_global_variable(self, key: str) -> Any:
        """Return the value of a global variable.

        :raises KeyError: (:class:`~provstore.exceptions.NotExistent`) if it does not exist.
        """

    @abstractmethod
    def set_global_variable(self, key: str, value: Any, description: str | None = None, overwrite: bool = True) -> None:
        """Set a global variable.

        :raises ValueError: if the key exists and ``overwrite`` is False.
        """

    # ----------------------------------------------------------------- information
    @abstractmethod
    def get_info(self, detailed: bool = False) -> dict[str, Any]:
        """Return a nested dict describing the storage (entity counts, repository information)."""

    @abstractmethod
    def maintain(self, full: bool = False, dry_run: bool = False, **kwargs: Any) -> dict[str, Any]:
        """Perform maintenance and return what was (or, with ``dry_run``, would be) done.

        ``full=True`` needs exclusive use of the profile.

        :raises LockedProfileError: with ``full=True`` while another process uses the profile.
        """

    @abstractmethod
    def get_repository(self) -> AbstractRepositoryBackend:
        """Return the repository that holds this storage's files."""
