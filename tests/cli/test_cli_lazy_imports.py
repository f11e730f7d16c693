"""``provstore storage info`` as a fresh process imports only what it needs (issue 19 item 5: start-up time)."""

from __future__ import annotations

import os
import subprocess
import sys

NOT_NEEDED_BY_STORAGE_INFO = (
    "provstore.cli.archive",
    "provstore.archive",
    "provstore.cli.profile",
    "provstore.cli.plugin",
    "provstore.cli.presto",
    "alembic",
)
"""Modules of other commands (and of migrations) that ``storage info`` of an up-to-date profile never uses."""


RUN_CLI_AND_LIST_MODULES = """
import atexit, sys
atexit.register(lambda: sys.stderr.write("modules: " + " ".join(sorted(sys.modules)) + "\\n"))
sys.argv = ["provstore", *sys.argv[1:]]
from provstore.cli import main
main()
"""
"""Run the CLI as its console script does, then list every imported module on stderr (``-X importtime`` misses
modules imported through :func:`importlib.import_module`, as backends and lazy commands are)."""


def imported_modules(*args: str) -> set[str]:
    """Return the modules a fresh ``provstore ARGS`` process has imported when it exits."""
    environment = {key: value for key, value in os.environ.items() if key != "PROVSTORE_TRACEBACK"}
    done = subprocess.run(
        [sys.executable, "-c", RUN_CLI_AND_LIST_MODULES, *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return set(done.stderr.rpartition("modules: ")[2].split())


def test_storage_info_imports_no_module_of_other_commands(provstore_script):
    assert provstore_script("presto").returncode == 0
    modules = imported_modules("storage", "info")
    assert {"provstore.cli.storage", "provstore_sqlite_dos.backend"} <= modules  # the listing is complete
    assert sorted(modules & set(NOT_NEEDED_BY_STORAGE_INFO)) == []


def test_help_still_loads_every_command(provstore_script):
    modules = imported_modules("--help")
    assert {"provstore.cli.archive", "provstore.cli.profile", "provstore.cli.plugin", "provstore.cli.presto"} <= modules
