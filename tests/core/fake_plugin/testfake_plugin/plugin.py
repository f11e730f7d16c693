"""Hook implementations of the test plugin; light to import, as every plugin module must be."""

from __future__ import annotations

import click
from provstore import hookimpl
from provstore.hookspecs import BackendSpec


@hookimpl
def provstore_storage_backends() -> list[BackendSpec]:
    """Provide the folder-backed test storage."""
    return [
        BackendSpec("testfake.store", "testfake_plugin.backend:FakeStorage", "Test storage kept in a folder."),
        BackendSpec("testfake.hidden", "testfake_plugin.backend:HiddenStorage", "Test storage not offered by setup."),
    ]


@hookimpl
def provstore_register_commands(cli: click.Group) -> None:
    """Add a command, to test that plugins can extend the CLI."""

    @cli.command("testfake-hello")
    def hello() -> None:
        """Say hello from the test plugin."""
        click.echo("hello from testfake")
