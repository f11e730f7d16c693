"""The top-level ``provstore`` group: global options, error reporting, and the commands of plugins."""

from __future__ import annotations

import errno
import logging
import os
import signal
import sys
from typing import TYPE_CHECKING, Any

import click

from provstore.exceptions import ProvstoreError

if TYPE_CHECKING:
    from provstore.config import Profile

__all__ = ["TRACEBACK_ENV", "CliState", "ProvstoreGroup", "cli", "main"]

TRACEBACK_ENV = "PROVSTORE_TRACEBACK"
"""Set to 1 to see the full traceback of an error instead of its one-line message (for debugging)."""

INTERRUPTED_EXIT_CODE = 130
"""Exit status after Ctrl-C (128 + SIGINT), as shells report an interrupted program."""

_PROFILE_OPTIONS = ("-p", "--profile")


class Interrupted(click.ClickException):
    """Ctrl-C: printed as one ``Error: interrupted`` line, exit status 130."""

    exit_code = INTERRUPTED_EXIT_CODE


def _quiet_interrupt(signum: int, frame: object) -> None:
    """SIGINT handler of the ``provstore`` process: silence cleanup noise, then interrupt as Python would.

    Unwinding an interrupted command closes connections half-way through their work; the database
    drivers then log errors and finalizers report "Exception ignored" lines. The user asked to stop, so
    those reports say nothing to them: only the command's own ``Error: interrupted`` line is printed.
    """
    for name in ("sqlalchemy", "alembic"):
        logger = logging.getLogger(name)
        logger.addHandler(logging.NullHandler())
        logger.propagate = False
    sys.unraisablehook = lambda _unraisable: None
    raise KeyboardInterrupt


def _complete_profile_names(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """Shell completion of ``-p/--profile``: the names of the configured profiles."""
    from provstore.config import Config

    try:
        names = Config.load().profile_names
    except ProvstoreError:
        return []
    return [name for name in names if name.startswith(incomplete)]


def _user_error_message(exc: BaseException) -> str | None:
    """Return the one-line message of an error caused by the user or the environment, None for a bug."""
    if isinstance(exc, ProvstoreError):
        return str(exc) or type(exc).__name__
    pydantic = sys.modules.get("pydantic")  # a pydantic error can only exist if pydantic was imported
    if pydantic is not None and isinstance(exc, pydantic.ValidationError):
        from provstore.config import format_validation_error

        return f"invalid value: {format_validation_error(exc)}"
    return None


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] if lines else ""


def _tracebacks_wanted() -> bool:
    return os.environ.get(TRACEBACK_ENV, "") not in ("", "0")


class _LazyCommand(click.Command):
    """Placeholder of a built-in command whose module is imported only when the command is looked up.

    It sits in the group's ``commands`` under its name (so a plugin still cannot replace it), and
    :meth:`ProvstoreGroup.get_command` swaps in the real command on first use: a command such as
    ``storage info`` then never imports the modules of ``archive``, ``profile`` or ``plugin``.
    """

    def __init__(self, name: str, module: str) -> None:
        super().__init__(name)
        self.module = module

    def load(self) -> click.Command:
        """Import the module and return its command of the same name."""
        import importlib

        return getattr(importlib.import_module(self.module), self.name)


class ProvstoreGroup(click.Group):
    """Root group: turns user errors into one ``Error: ...`` line and adds the plugins' commands on first use."""

    _commands_manager: object = None
    _plugin_command_names: frozenset[str] = frozenset()

    def _load_plugin_commands(self) -> None:
        """Add the commands of the current plugin manager's plugins (again, if the manager was reset)."""
        from provstore.plugins import get_plugin_manager

        manager = get_plugin_manager()
        if self._commands_manager is manager:
            return
        for name in self._plugin_command_names:
            self.commands.pop(name, None)
        before = set(self.commands)
        for warning in manager.register_commands(self):
            click.echo(f"Warning: {warning}", err=True)
        self._plugin_command_names = frozenset(set(self.commands) - before)
        self._commands_manager = manager

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command, reporting a provstore (or validation) error as one line with exit code 1."""
        try:
            return super().invoke(ctx)
        except click.NoSuchOption as exc:
            if exc.option_name in _PROFILE_OPTIONS and exc.ctx is not None:
                words = exc.ctx.command_path.split()
                exc.message = (
                    f"No such option: {exc.option_name}. The profile is chosen before the command: "
                    f"{' '.join([words[0], exc.option_name, 'NAME', *words[1:]])}"
                )
            raise
        except KeyboardInterrupt:
            if _tracebacks_wanted():
                raise
            raise Interrupted("interrupted") from None
        except OSError as exc:  # the environment: permissions, full disk, missing folder
            if exc.errno == errno.EPIPE or _tracebacks_wanted():
                raise  # EPIPE: the reader went away (`provstore plugin list | head`), click exits quietly
            raise click.ClickException(_first_line(str(exc)) or type(exc).__name__) from None
        except Exception as exc:
            message = _user_error_message(exc)
            if message is None or _tracebacks_wanted():
                raise
            raise click.ClickException(_first_line(message) or type(exc).__name__) from None

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_plugin_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self._load_plugin_commands()
        command = super().get_command(ctx, cmd_name)
        if isinstance(command, _LazyCommand):
            command = self.commands[cmd_name] = command.load()
        return command


class CliState:
    """Options of the top-level group that subcommands need, stored as the click context's ``obj``."""

    def __init__(self, profile_name: str | None) -> None:
        self.profile_name = profile_name

    def load_profile(self) -> Profile:
        """Return the profile chosen with ``-p/--profile``, or the default profile."""
        from provstore import load_profile

        return load_profile(self.profile_name)


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from provstore import __version__

    click.echo(f"provstore {__version__}")
    ctx.exit()


@click.group(cls=ProvstoreGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version, help="Show the version."
)
@click.option(
    "-p",
    "--profile",
    "profile_name",
    metavar="NAME",
    shell_complete=_complete_profile_names,
    help="Profile to use for commands that act on a storage (default: the default profile).",
)
@click.pass_context
def cli(ctx: click.Context, profile_name: str | None) -> None:
    """Pluggable storage for provenance graphs: manage plugins, profiles and storages."""
    ctx.obj = CliState(profile_name)


def _add_builtin_commands() -> None:
    # storage is a real group from the start: plugins add subcommands to it (``storage adopt``)
    from provstore.cli.storage import storage
    from provstore.cli.transfer import transfer

    storage.add_command(transfer)
    cli.add_command(storage)
    for name in ("plugin", "presto", "profile", "archive"):  # imported when looked up (invoked, help, completion)
        cli.add_command(_LazyCommand(name, f"provstore.cli.{name}"))


_add_builtin_commands()


def main() -> None:
    """Console-script entry point of ``provstore``: the process is the CLI's own, so it sets its SIGINT handler
    and opts in to the bulk collector setting (:mod:`provstore.gc_tuning`)."""
    from provstore.gc_tuning import enable_bulk_tuning

    enable_bulk_tuning()  # bulk commands (transfer, archive) run faster; the library alone never does this
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not when the caller set its own
        signal.signal(signal.SIGINT, _quiet_interrupt)
    cli.main(prog_name="provstore")
