"""Hook specifications: what a provstore plugin may provide.

A plugin is a module named by an entry point in the ``provstore`` group. It implements some of
the hooks below with the :data:`hookimpl` marker. The module must stay cheap to import: point
at backend classes with ``"module:Class"`` strings, never import their heavy dependencies here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

PROJECT_NAME = "provstore"
ENTRY_POINT_GROUP = "provstore"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@dataclass(frozen=True)
class BackendSpec:
    """Description of one backend a plugin provides, resolved to its class only when used.

    :param name: the public name users write in a profile, ``<prefix>.<name>`` (``core.`` is reserved).
    :param target: lazy import target ``"package.module:ClassName"``.
    :param description: one line shown by ``provstore plugin list``.
    :param requires: mapping of import name to the pip requirement that provides it, e.g.
        ``{"psycopg2": "psycopg2-binary"}``; used to report a missing dependency without importing it.
    """

    name: str
    target: str
    description: str
    requires: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or "." not in self.name or not all(self.name.split(".")):
            raise ValueError(f"backend name {self.name!r} must look like 'prefix.name'")
        module, sep, attr = self.target.partition(":")
        if not (module and sep and attr):
            raise ValueError(f"backend target {self.target!r} must look like 'package.module:ClassName'")


@hookspec
def provstore_storage_backends() -> list[BackendSpec]:
    """Return the storage backends this plugin provides.

    Each item is a :class:`BackendSpec` whose target is a subclass of
    :class:`provstore.storage.StorageBackend`. The class is imported only when a profile uses it,
    so the dependencies it needs belong in ``requires``. Return an empty list if none.
    """


@hookspec
def provstore_repository_backends() -> list[BackendSpec]:
    """Return the repository (blob store) backends this plugin provides.

    Each item is a :class:`BackendSpec` whose target is a subclass of
    :class:`provstore.repository.AbstractRepositoryBackend`. Same laziness rules as
    :func:`provstore_storage_backends`. Return an empty list if none.
    """


@hookspec
def provstore_register_commands(cli: click.Group) -> None:
    """Add commands to the ``provstore`` command line.

    Called once when the CLI starts, with the top-level click group: attach commands or groups to
    it with ``cli.add_command(...)``. Keep the command module light; import heavy code inside the
    command function so ``provstore --help`` stays fast.
    """
