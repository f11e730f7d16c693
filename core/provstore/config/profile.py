"""A profile: a named choice of storage backend (and repository backend) with their settings.

A profile is data only: resolving its backend names to classes is :mod:`provstore.plugins`' job.
"""

from __future__ import annotations

import copy
from typing import Any

from provstore.exceptions import ConfigurationError

__all__ = ["Profile"]


class Profile:
    """A named storage configuration, as stored in the configuration file.

    Its dictionary form is::

        {"storage": {"backend": "core.sqlite_dos", "config": {...}},
         "repository": {"backend": "core.diskobjectstore", "config": {...}},   # optional
         "default_user_email": "me@example.org",                              # optional
         "options": {...}}                                                     # optional
    """

    def __init__(self, name: str, attributes: dict[str, Any]) -> None:
        """Build a profile from its dictionary form; raise ConfigurationError when malformed."""
        if not isinstance(name, str) or not name.strip():
            raise ConfigurationError(f"invalid profile name {name!r}: must be a non-empty string")
        if not isinstance(attributes, dict):
            raise ConfigurationError(f"profile {name!r}: must be a mapping, got {type(attributes).__name__}")
        storage = attributes.get("storage")
        if not isinstance(storage, dict) or not isinstance(storage.get("backend"), str):
            raise ConfigurationError(f"profile {name!r}: 'storage.backend' must be a backend name string")
        if not isinstance(storage.get("config", {}), dict):
            raise ConfigurationError(f"profile {name!r}: 'storage.config' must be a mapping")
        repository = attributes.get("repository")
        if repository is not None and (
            not isinstance(repository, dict) or not isinstance(repository.get("backend"), str)
        ):
            raise ConfigurationError(f"profile {name!r}: 'repository.backend' must be a backend name string")
        self._name = name
        self._attributes = copy.deepcopy(attributes)
        self._attributes["storage"].setdefault("config", {})

    @property
    def name(self) -> str:
        """Return the profile's name."""
        return self._name

    @property
    def storage_backend(self) -> str:
        """Return the name of the storage backend, e.g. ``core.sqlite_dos``."""
        return self._attributes["storage"]["backend"]

    @property
    def storage_config(self) -> dict[str, Any]:
        """Return the storage backend's configuration (a mutable dict owned by this profile)."""
        return self._attributes["storage"]["config"]

    @property
    def repository_backend(self) -> str | None:
        """Return the name of the repository backend the profile names, or None (its storage's default applies).

        Which class that is, and the storage's default, are resolved by :mod:`provstore.plugins`.
        """
        repository = self._attributes.get("repository")
        return None if repository is None else repository["backend"]

    @property
    def repository_config(self) -> dict[str, Any]:
        """Return the repository backend's configuration (empty when the profile gives none)."""
        repository = self._attributes.get("repository")
        return repository.setdefault("config", {}) if repository is not None else {}

    @property
    def default_user_email(self) -> str | None:
        """Return the email of the user that owns new entities when none is given."""
        return self._attributes.get("default_user_email")

    @property
    def options(self) -> dict[str, Any]:
        """Return free-form options of the profile."""
        return self._attributes.setdefault("options", {})

    @property
    def dictionary(self) -> dict[str, Any]:
        """Return a deep copy of the profile's dictionary form (what the configuration file holds)."""
        return copy.deepcopy(self._attributes)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Profile) and (self._name, self._attributes) == (other._name, other._attributes)

    def __repr__(self) -> str:
        # never include the configuration: it may hold a password
        return f"Profile(name={self._name!r}, storage_backend={self.storage_backend!r})"
