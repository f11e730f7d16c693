"""Default configurations for backends under test: required path settings point into a temporary folder.

Profiles of storage backends are built by :func:`provstore.testing.profiles.storage_section`; this module
fills the path settings it (and the repository fixtures) need.

The conformance kit cannot know what a third-party backend needs; it fills every *required* setting that
names a location on disk and asks the author to override the configuration fixture for anything else.
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

if typing.TYPE_CHECKING:
    from provstore.config import Profile
    from provstore.storage import StorageBackend

__all__ = ["backend_class", "default_repository_config", "path_settings", "storage_class"]

_PATH_WORDS = ("path", "filepath", "file", "dir", "directory", "folder", "root")


def _is_path_field(name: str, annotation: Any) -> bool:
    """Return whether a setting names a location on disk, by its type (``Path``) or its name."""
    annotations = typing.get_args(annotation) or (annotation,)
    if any(isinstance(item, type) and issubclass(item, Path) for item in annotations):
        return True
    last_word = name.lower().rsplit("_", 1)[-1]
    return last_word in _PATH_WORDS


def path_settings(model: type[BaseModel], folder: Path, label: str) -> dict[str, str]:
    """Return values under ``folder`` for the required path settings of ``model``; fail on other required ones."""
    values: dict[str, str] = {}
    unknown: list[str] = []
    for name, field in model.model_fields.items():
        if not field.is_required():
            continue
        if _is_path_field(name, field.annotation):
            values[name] = str(folder / name)
        else:
            unknown.append(name)
    if unknown:
        pytest.fail(
            f"{label} needs settings the conformance kit cannot guess ({', '.join(unknown)}): "
            "override the configuration fixture to provide them",
            pytrace=False,
        )
    return values


def backend_class(group: str, backend: str) -> type:
    """Return the class of an installed backend, or fail the test with the plugin manager's one-line reason."""
    from provstore.exceptions import PluginError
    from provstore.plugins import get_plugin_manager

    try:
        return get_plugin_manager().get_backend(group, backend)
    except PluginError as exc:
        reason = str(exc)
    pytest.fail(f"cannot test {group} backend {backend!r}: {reason}", pytrace=False)


def storage_class(profile: Profile) -> type[StorageBackend]:
    """Return the storage backend class a profile names (through the plugin registry, as ``open_storage`` does)."""
    from provstore.exceptions import PluginError
    from provstore.plugins import resolve_storage_class

    try:
        return resolve_storage_class(profile)
    except PluginError as exc:
        pytest.fail(f"cannot test storage backend {profile.storage_backend!r}: {exc}", pytrace=False)


def default_repository_config(backend: str, folder: Path) -> dict[str, Any]:
    """Return a configuration for repository ``backend`` whose files all live under ``folder``."""
    cls = backend_class("repository", backend)
    configuration = getattr(cls, "Configuration", None)
    if configuration is None:
        return {}
    return path_settings(configuration, folder / "repository", f"repository backend {backend}")
