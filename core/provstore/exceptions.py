"""Exceptions raised by provstore: one hierarchy so callers (and the CLI) can catch user mistakes cleanly."""

from __future__ import annotations

__all__ = [
    "AuthenticationRequired",
    "ClosedStorage",
    "ConfigurationError",
    "CorruptStorage",
    "IncompatibleStorageSchema",
    "IntegrityError",
    "LockedProfileError",
    "MissingDependency",
    "MultipleObjectsError",
    "NotExistent",
    "PluginConflict",
    "PluginError",
    "PluginLoadError",
    "PluginNotFound",
    "ProfileNotFound",
    "ProvstoreError",
    "QueryError",
    "StorageError",
    "StorageFull",
    "StorageMigrationError",
    "TransactionError",
    "UnreachableStorage",
    "ValidationError",
]


class ProvstoreError(Exception):
    """Base class of every error provstore raises on purpose; its message is one line meant for a user."""


class ConfigurationError(ProvstoreError):
    """The configuration file or a profile's configuration is missing, corrupt or invalid."""


class ProfileNotFound(ConfigurationError):
    """No profile of the requested name exists in the configuration."""


class PluginError(ProvstoreError):
    """Base class of errors raised while discovering or resolving plugins."""


class PluginNotFound(PluginError):
    """No installed plugin provides the requested backend name."""


class PluginConflict(PluginError):
    """Two plugin distributions claim the same backend name."""


class PluginLoadError(PluginError):
    """A plugin module, or the backend class it points to, could not be imported."""


class MissingDependency(PluginLoadError):
    """A backend needs a third-party package that is not installed; the message names what to install."""


class StorageError(ProvstoreError):
    """Base class of errors about the state of a storage backend."""


class UnreachableStorage(StorageError):
    """The storage cannot be accessed (server down, wrong credentials, missing file or folder)."""


class AuthenticationRequired(UnreachableStorage):
    """The server refused the credentials and no secret was given: the caller may ask the user for it and retry.

    ``field`` names the configuration field that holds the secret (e.g. ``database_password``) and
    ``environment`` the environment variable the driver reads when the field is empty (e.g. ``PGPASSWORD``),
    so that ``provstore profile setup`` can prompt for it, or say how to give it.
    """

    def __init__(self, message: str, *, field: str, environment: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.environment = environment


class IncompatibleStorageSchema(StorageError):
    """The storage schema is not the one this code expects (migrate the storage, or upgrade the code)."""


class CorruptStorage(StorageError):
    """The storage is internally inconsistent (for example its repository is not the one it was made with)."""


class StorageMigrationError(StorageError):
    """A schema migration cannot be performed."""


class LockedProfileError(StorageError):
    """The operation needs exclusive access to a profile that another process is using."""


class StorageFull(StorageError):
    """The disk (or quota) holding the storage is full: the write was not done; free space and run it again.

    ``path`` is where the space ran out and ``needed`` the bytes the operation still needed, when known.
    """

    def __init__(self, message: str, *, path: str | None = None, needed: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.needed = needed


class ClosedStorage(StorageError):
    """The storage backend was closed and cannot be used any more."""


class NotExistent(ProvstoreError, KeyError):
    """The requested entity, object or setting does not exist."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class MultipleObjectsError(ProvstoreError):
    """A query expected exactly one result and found several."""


class QueryError(StorageError):
    """The storage could not run a valid query (for example a limit of its database); the message says why."""


class ValidationError(ProvstoreError, ValueError):
    """A value given by the caller is invalid (bad attribute value, link rule, key, filter or field)."""


class IntegrityError(ProvstoreError):
    """A write would violate the integrity of the stored data (uniqueness, references); nothing was written."""


class TransactionError(ProvstoreError, AssertionError):
    """An operation was called outside (or inside) a transaction when it must not be.

    It is also an ``AssertionError``, the type the reference documentation gives for
    ``delete_nodes_and_connections`` outside a transaction, so code written against it catches this too.
    """
