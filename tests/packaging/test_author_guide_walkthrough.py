"""The author guide's walk-through works verbatim in a fresh virtual environment: install, list, a green kit run."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from support.venvs import REPO

pytestmark = [pytest.mark.venv, pytest.mark.slow]

GUIDE = REPO / "docs" / "plugin-author-guide.md"
VENV_IN_GUIDE = "/tmp/acme-venv"


def walkthrough_commands() -> list[str]:
    """Return the commands of the guide's "Run it in a fresh virtual environment" console block."""
    text = GUIDE.read_text(encoding="utf-8")
    section = text.split("### Run it in a fresh virtual environment", 1)[1]
    block = re.search(r"```console\n(.*?)```", section, re.DOTALL)
    assert block, "no console block in the walk-through section"
    return [line[2:] for line in block.group(1).splitlines() if line.startswith("$ ")]


def test_the_walkthrough_commands_pass_in_a_fresh_venv(tmp_path: Path) -> None:
    commands = walkthrough_commands()
    assert commands[0].startswith("python -m venv")
    venv = tmp_path / "acme-venv"
    script = " && ".join(command.replace(VENV_IN_GUIDE, str(venv)) for command in commands)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "VIRTUAL_ENV"))}
    env["PROVSTORE_CONFIG_DIR"] = str(tmp_path / "config")
    result = subprocess.run(
        ["bash", "-c", f"set -e; {script}"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert re.search(r"acme\.sqlitestore\s.*\sok\s", output), output[-3000:]
    summary = re.search(r"(\d+) passed", output)
    assert summary and int(summary.group(1)) > 400, output[-3000:]
    assert "failed" not in output.splitlines()[-1]
