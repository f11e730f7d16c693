"""Virtual environments for the tests that install distributions: create them and run commands inside them.

A test that needs the provstore under test plus something it installs itself (a plugin) makes a venv that
*sees* the packages of the interpreter running the tests. ``venv --system-site-packages`` cannot give that
when the tests run in a virtual environment themselves (the usual case): it links the new venv to the base
interpreter, where provstore is not installed. So such a venv gets a ``.pth`` file that adds the running
interpreter's site folders after its own, processing their ``.pth`` files (which hold the editable installs).
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
import venv
from pathlib import Path

from support.isolation import DISABLE_PLUGINS_ENV, canonical

REPO = Path(__file__).resolve().parents[2]


def running_site_folders() -> list[str]:
    """Return the site folders of the running interpreter (its venv's, and the system's or user's if it sees them)."""
    folders = list(site.getsitepackages())
    user_site = site.getusersitepackages()
    if site.ENABLE_USER_SITE and os.path.isdir(user_site):
        folders.append(user_site)
    return folders


class VirtualEnv:
    """A virtual environment on disk with helpers to run its python, pip and console scripts.

    :param see_running_packages: the environment also sees every package of the interpreter running the
        tests (the provstore under test among them), after its own.
    """

    def __init__(self, path: Path, see_running_packages: bool = False) -> None:
        """Create the environment (with pip) at ``path``."""
        self.path = path
        venv.EnvBuilder(with_pip=True, clear=True).create(path)
        self.bin = path / ("Scripts" if sys.platform == "win32" else "bin")
        self.python = str(self.bin / "python")
        purelib = subprocess.run(
            [self.python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True,
            text=True,
            check=True,
        )
        self.site_packages = Path(purelib.stdout.strip())
        if see_running_packages:
            lines = [f"import site; site.addsitedir({folder!r})\n" for folder in running_site_folders()]
            (self.site_packages / "_provstore_tests_running_site.pth").write_text("".join(lines))

    def environment(self, env: dict[str, str] | None = None) -> dict[str, str]:
        """Return the variables of a command run here: the test run's, less pytest's and the outer venv's, plus ``env``.

        Plugins the test run blocks (see ``tests/conftest.py``) stay blocked, except the distributions installed
        into this environment: the test installed them itself.
        """
        variables = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHONPATH", "VIRTUAL_ENV"))}
        own = {canonical(folder.name.split("-")[0]) for folder in self.site_packages.glob("*.dist-info")}
        blocked = [
            name for name in variables.get(DISABLE_PLUGINS_ENV, "").split(",") if name and canonical(name) not in own
        ]
        variables[DISABLE_PLUGINS_ENV] = ",".join(blocked)
        variables.update(env or {})
        return variables

    def run(self, *args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: int = 600):
        """Run a program of the environment (``python``, ``pip``, ``provstore``...) and return the completed process.

        The working directory defaults to the environment itself so the source tree is never on ``sys.path``.
        """
        program, *rest = (str(arg) for arg in args)
        return subprocess.run(
            [str(self.bin / program), *rest],
            cwd=cwd or self.path,
            env=self.environment(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def check(self, *args: str | Path, **kwargs) -> subprocess.CompletedProcess:
        """Like :meth:`run`, but fail the test with the command's output when it exits non-zero."""
        result = self.run(*args, **kwargs)
        assert result.returncode == 0, f"{args} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        return result
