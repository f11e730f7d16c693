"""Abstract interface of a storage backend: the provenance graph plus the repository that holds its files.

A concrete backend is a subclass registered by a plugin (see :mod:`provstore.hookspecs`). It is built
from a :class:`~provstore.config.Profile` and the repository backend that holds its files; the class
methods manage the storage's schema without opening it.

What an implementation provides, in one place (``docs/api-reference.md`` tells the same with examples):

- **must**: a ``Configuration`` model; the class methods :meth:`~StorageBackend.version_head`,
  :meth:`~StorageBackend.version_profile`, :meth:`~StorageBackend.initialise`,
  :meth:`~StorageBackend.migrate`; and every other abstract method and property below.
- **may**: ``default_repository_backend`` with :meth:`~StorageBackend.default_repository_config`,
  ``default_repository_fields`` and ``repository_selectable`` (a storage that holds files), ``SetupOptions``
  with :meth:`~StorageBackend.setup_storage` (something to prepare before ``initialise``, e.g. a database
  role), ``can_delete_storage`` with :meth:`~StorageBackend.delete_storage`, and ``cli_exposed = False``
  (hidden from ``profile setup``).
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

from provstore.exceptions import ConfigurationError, StorageError
from provstore.storage.entity_types import EntityTypes

if TYPE_CHECKING:
    from provstore.config import Profile
    from provstore.query import QueryBuilder
    from provstore.repository import AbstractRepositoryBackend
    from provstore.storage.entities import AuthInfo, Comment, Computer, EntityCollection, Group, Log, Node, User

__all__ = ["StorageBackend"]


class StorageBackend(ABC):
    """A provenance graph store bound to one profile; use as a context manager to close it."""

    class Configuration(BaseModel):
        """Settings of this backend as stored in a profile's ``storage.config``; subclasses replace it.

        The CLI builds one ``profile setup`` option per field (its description is the help text).
        """

    SetupOptions: ClassVar[type[BaseModel] | None] = None
    """Pydantic model of one-off settings that :meth:`setup_storage` needs and the profile does not keep
    (for example an administrator's password); ``profile setup`` adds one option per field. None: none."""

    cli_exposed: ClassVar[bool] = True
    """Whether ``provstore profile setup`` offers this backend (False for throwaway or internal backends)."""

    default_repository_backend: ClassVar[str | None] = None
    """Name of the repository backend used when the profile names none (None: the storage holds no files)."""

    default_repository_fields: ClassVar[frozenset[str]] = frozenset()
    """Fields of ``Configuration`` that only configure the default repository (e.g. its folder): optional in the
    model, required by ``provstore profile setup`` unless ``--repository-backend`` names another repository, and
    then not offered."""

    repository_selectable: ClassVar[bool] = True
    """Whether ``provstore profile setup --repository-backend`` may give a storage that holds files another
    repository than its default (False for stores whose files are in a fixed place, e.g. read in place)."""

    can_delete_storage: ClassVar[bool] = False
    """Whether :meth:`delete_storage` is implemented; ``provstore profile delete`` leaves the data of a
    backend that cannot delete it in place, and says so."""

    def __init__(self, profile: Profile, repository: AbstractRepositoryBackend | None = None) -> None:
        """Open the storage of ``profile`` with ``repository`` holding its files, validating both.

        :func:`provstore.open_storage` builds the repository from the profile and passes it; with None
        a backend that holds files builds it with :meth:`repository_for`. The storage owns the repository
        from then on and closes it in :meth:`close` (and when this constructor fails).

        :raises UnreachableStorage: the storage cannot be accessed.
        :raises IncompatibleStorageSchema: the schema is not at the version of this code.
        :raises CorruptStorage: the storage is internally inconsistent (e.g. not the repository it was made with).
        """
        self._profile = profile

    @property
    def profile(self) -> Profile:
        """Return the profile this storage belongs to."""
        return self._profile

    # --------------------------------------------------------------------- repository
    @classmethod
    def repository_for(cls, profile: Profile) -> AbstractRepositoryBackend:
        """Return the repository backend of ``profile``, built from its configuration (not initialised).

        The backend is the profile's ``repository`` section if it has one, else this class's
        :attr:`default_repository_backend` with :meth:`default_repository_config`; it is resolved by name
        through the installed plugins, and its ``profile_name`` is set so that its errors name the profile.
        Called on :class:`StorageBackend` itself, the profile's storage class is resolved first. Backends call
        this instead of reaching the plugin registry themselves.

        :raises ConfigurationError: no repository backend is named, or its configuration is invalid.
        :raises PluginNotFound: no installed plugin provides the repository backend.
        """
        from provstore.plugins import resolve_repository_class, resolve_storage_class

        storage_cls = resolve_storage_class(profile) if cls is StorageBackend else cls
        repository_cls = resolve_repository_class(profile, storage_cls)
        if repository_cls is None:
            raise ConfigurationError(
                f"profile {profile.name!r}: storage backend {profile.storage_backend!r} names no repository backend"
            )
        if profile.repository_backend is not None:
            repository = repository_cls.from_config(profile.repository_config)
        else:
            repository = repository_cls.from_config(storage_cls.default_repository_config(profile))
        repository.profile_name = profile.name
        return repository

    @classmethod
    def default_repository_config(cls, profile: Profile) -> dict[str, Any]:
        """Return the configuration of :attr:`default_repository_backend` for a profile that names no repository.

        Override it to derive the repository's place from the storage's (e.g. a folder beside the database);
        the default is an empty configuration.
        """
        return {}

    # ------------------------------------------------------------------ schema management
    @classmethod
    @abstractmethod
    def version_head(cls) -> str:
        """Return the head schema version of this backend type (what :meth:`initialise` creates)."""

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
        """Create the storage at the head schema and initialise its repository; return False if already initialised.

        With ``reset=True`` an existing storage is destroyed (with all its data and its repository's
        objects) and recreated. ``repository`` as in the constructor (None: :meth:`repository_for`).

        :raises LockedProfileError: with ``reset=True`` while another process uses the profile.
        """

    @classmethod
    @abstractmethod
    def migrate(cls, profile: Profile) -> None:
        """Migrate the profile's storage to the head schema (no-op when already there).

        :raises StorageMigrationError: the storage is not initialised, or its version is unknown.
        """

    # ------------------------------------------------------------ optional capabilities
    @classmethod
    def setup_storage(cls, profile: Profile, options: BaseModel | None) -> dict[str, bool]:
        """Prepare what the storage needs before :meth:`initialise` (e.g. a database and its role).

        ``provstore profile setup`` calls it with an instance of :attr:`SetupOptions` (None when the
        backend declares none); it must be idempotent. Returns which steps were done, e.g.
        ``{"role": True, "database": False}``; the default has nothing to prepare.
        """
        return {}

    @classmethod
    def delete_storage(cls, profile: Profile, *, repository: AbstractRepositoryBackend | None = None) -> None:
        """Delete all of the profile's data: the storage and its repository (``provstore profile delete``).

        Optional: a backend that implements it sets :attr:`can_delete_storage` to True. ``repository`` as
        in the constructor (None: :meth:`repository_for`).

        :raises LockedProfileError: another process uses the profile.
        :raises StorageError: the backend cannot delete its data (the default).
        """
        raise StorageError(f"storage backend {profile.storage_backend!r} cannot delete its data")

    # --------------------------------------------------------------------- lifecycle
    @abstractmethod
    def close(self) -> None:
        """Close the storage access and its repository; the instance cannot be used afterwards (idempotent)."""

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
    def authinfos(self) -> EntityCollection[AuthInfo]:
        """Return the collection of authorisation infos (user credentials on a computer)."""

    @property
    @abstractmethod
    def comments(self) -> EntityCollection[Comment]:
        """Return the collection of comments."""

    @property
    @abstractmethod
    def computers(self) -> EntityCollection[Computer]:
        """Return the collection of computers."""

    @property
    @abstractmethod
    def groups(self) -> EntityCollection[Group]:
        """Return the collection of groups."""

    @property
    @abstractmethod
    def logs(self) -> EntityCollection[Log]:
        """Return the collection of logs."""

    @property
    @abstractmethod
    def nodes(self) -> EntityCollection[Node]:
        """Return the collection of nodes."""

    @property
    @abstractmethod
    def users(self) -> EntityCollection[User]:
        """Return the collection of users."""

    @abstractmethod
    def query(self) -> QueryBuilder:
        """Return a new query builder on this storage: the backend's subclass of :class:`provstore.query.QueryBuilder`.

        The subclass implements ``execute``, ``execute_stream`` and ``execute_count`` on the validated
        ``QuerySpec``; the core does the building and the validation.
        """

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

        :param rows: dicts of the model's fields except ``id`` (any iterable: consume it in bounded chunks).
        :param allow_defaults: if False every row must give every field; else defaults fill the gaps.
        :param exclusive_load: the caller owns the store (a transfer or archive import into a target nobody
            else uses): the backend may take exclusive locks and drop and rebuild indexes and constraints
            to load faster. A backend without such a mode ignores it; the result is the same either way.
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

        :raises NotExistent: (a ``KeyError``) if it does not exist.
        """

    @abstractmethod
    def set_global_variable(self, key: str, value: Any, description: str | None = None, overwrite: bool = True) -> None:
        """Set a global variable (a JSON value, see :mod:`provstore.storage.json_values`).

        :raises ValueError: if the key exists and ``overwrite`` is False.
        """

    @abstractmethod
    def iter_global_variables(self) -> Iterator[tuple[str, Any, str]]:
        """Yield ``(key, value, description)`` of each global variable, in the order they were first set.

        ``description`` is the latest one given (``""`` when none was); transfers copy the data's settings with it.

        Variables the backend keeps about the store itself (such as the uuid of its repository) are left
        out: they describe this store, not its data, and a copy of the data must not take them along.
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
