"""provstore: pluggable storage for provenance graphs, with backends chosen by a profile's configuration.

Importing this package is cheap: the configuration, the plugin manager and every backend are
imported only when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from provstore.hookspecs import hookimpl, hookspec

if TYPE_CHECKING:
    from provstore.config import Profile
    from provstore.storage import StorageBackend

__version__ = "0.1.0"

__all__ = ["__version__", "hookimpl", "hookspec", "load_profile", "open_storage"]


def load_profile(name: str | None = None) -> Profile:
    """Return the profile ``name`` from the configuration file, or the default profile when ``name`` is None.

    :raises ProfileNotFound: no such profile (the message lists the existing ones), or no default profile.
    :raises ConfigurationError: the configuration file is corrupt.
    """
    from provstore.config import Config

    return Config.load().get_profile(name)


def open_storage(profile: str | Profile | None = None) -> StorageBackend:
    """Open the storage of a profile (a name, a Profile, or None for the default profile), validating its config.

    Resolves the profile's storage backend class and its repository backend class through the installed
    plugins, validates the storage configuration with the backend's ``Configuration``, builds the
    repository from its configuration and hands it to the storage. The result is a context manager that
    closes the storage (and its repository) on exit.

    :raises ProfileNotFound: no such profile.
    :raises ConfigurationError: the profile's storage or repository configuration is invalid (the field is named).
    :raises PluginNotFound: no installed plugin provides the profile's backend.
    :raises MissingDependency: the backend needs a package that is not installed.
    """
    from provstore.config import Profile, validate_backend_config
    from provstore.exceptions import ConfigurationError
    from provstore.plugins import resolve_repository_class, resolve_storage_class

    if not isinstance(profile, Profile):
        profile = load_profile(profile)
    storage_cls = resolve_storage_class(profile)
    try:
        validate_backend_config(storage_cls, profile.storage_config)
    except ConfigurationError as exc:
        raise ConfigurationError(f"profile {profile.name!r}: {exc}") from None
    holds_files = resolve_repository_class(profile, storage_cls) is not None
    repository = storage_cls.repository_for(profile) if holds_files else None
    return storage_cls(profile, repository)
