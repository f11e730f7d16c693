"""Test profiles whose files all live under a temporary folder: the one builder of the tests and the kit.

The built-in SQL backends have a recipe here; any other installed storage backend gets its required path
settings filled with folders (:func:`provstore.testing.configs.path_settings`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from provstore.config import Profile
from provstore.exceptions import PluginNotFound

__all__ = ["TEST_USER_EMAIL", "available_sql_backends", "make_profile", "storage_section"]

TEST_USER_EMAIL = "tester@provstore.test"
"""Default user of every test profile."""


def _sqlite_temp(folder: Path, extra: dict[str, Any]) -> dict[str, Any]:
    return {"backend": "core.sqlite_temp", "config": {"filepath": str(folder), **extra}}


def _sqlite_dos(folder: Path, extra: dict[str, Any]) -> dict[str, Any]:
    return {"backend": "core.sqlite_dos", "config": {"filepath": str(folder / "storage"), **extra}}


def _psql_dos(folder: Path, extra: dict[str, Any]) -> dict[str, Any]:
    """``extra`` must hold the connection settings, e.g. those of the ``pg_database`` pytest fixture."""
    return {"backend": "core.psql_dos", "config": {"repository_uri": str(folder / "repository"), **extra}}


_BUILDERS: dict[str, Callable[[Path, dict[str, Any]], dict[str, Any]]] = {
    "core.sqlite_temp": _sqlite_temp,
    "core.sqlite_dos": _sqlite_dos,
    "core.psql_dos": _psql_dos,
}
"""Backend name -> function returning the profile's ``storage`` section for a folder and extra settings."""


def storage_section(backend_name: str, folder: str | Path, **extra: Any) -> dict[str, Any]:
    """Return the ``storage`` section of a profile of ``backend_name`` whose files all live under ``folder``.

    A built-in SQL backend gets its recipe; any other installed backend gets its required path settings filled
    with folders under ``folder / "storage"`` (the test fails, naming them, if it requires other settings).
    ``extra`` are additional settings of the backend's configuration (e.g. ``busy_timeout=5``).
    """
    builder = _BUILDERS.get(backend_name)
    if builder is not None:
        return builder(Path(folder), extra)
    from provstore.testing.configs import backend_class, path_settings

    cls = backend_class("storage", backend_name)
    settings = path_settings(cls.Configuration, Path(folder) / "storage", f"storage backend {backend_name}")
    return {"backend": backend_name, "config": {**settings, **extra}}


def make_profile(backend_name: str, tmp_path: str | Path, **extra: Any) -> Profile:
    """Return an (uninitialised) profile of ``backend_name`` whose files live under ``tmp_path``.

    ``extra`` are additional settings of the storage backend's configuration (e.g. ``busy_timeout=5``).

    :raises PluginNotFound: ``backend_name`` is not a built-in SQL backend known here.
    """
    if backend_name not in _BUILDERS:
        raise PluginNotFound(
            f"no test profile recipe for storage backend {backend_name!r}; known: {', '.join(_BUILDERS)}"
        )
    storage = storage_section(backend_name, tmp_path, **extra)
    return Profile(
        f"test-{backend_name.replace('.', '-')}", {"storage": storage, "default_user_email": TEST_USER_EMAIL}
    )


def available_sql_backends() -> list[str]:
    """Return the built-in SQL backends that have a recipe here and whose plugin is installed."""
    from provstore.plugins import get_plugin_manager

    installed = set(get_plugin_manager().backend_names("storage"))
    return [name for name in _BUILDERS if name in installed]
