"""Portable single-file archives of a whole store: create, inspect and import them (safely).

Importing this package is light (the CLI reads :class:`ArchiveLimits` for its option defaults); the
functions, which need SQLAlchemy, are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from provstore.archive.format import ArchiveLimits

if TYPE_CHECKING:
    from provstore.archive.api import create_archive, import_archive, inspect_archive, open_archive

__all__ = ["ArchiveLimits", "create_archive", "import_archive", "inspect_archive", "open_archive"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from provstore.archive import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
