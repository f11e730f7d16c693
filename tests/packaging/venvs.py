"""Helpers of the packaging tests: make virtual environments and run commands inside them."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


class VirtualEnv:
    """A virtual environment on disk with helpers to run its python, pip and console scripts."""

    def __init__(self, path: Path, system_site_packages: bool = False) -> None:
        """Create the environment (with pip) at ``path``."""
        self.path = path
        venv.EnvBuilder(with_pip=True, system_site_packages=system_site_packages, clear=True).create(path)
        self.bin = path / ("Scripts" if sys.platform == "win32" else "bin")

    def run(self, *args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: int = 600):
        """Run a program of the environment (``python``, ``pip``, ``provstore``...) and return the completed process.

        The working directory defaults to the environment itself so the source tree is never on ``sys.path``.
        """
        program, *rest = (str(arg) for arg in args)
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHONPATH", "VIRTUAL_ENV"))}
        full_env.update(env or {})
        return subprocess.run(
            [str(self.bin / program), *rest],
            cwd=cwd or self.path,
            env=full_env,
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
