"""The user guide runs as written: every ``$`` command and Python example, in order, against a real PostgreSQL.

The guide's commands form one story (a laptop profile, a shared PostgreSQL profile, presto, a move to
PostgreSQL); the test runs them verbatim in a fresh home folder with the installed console script. Only the
guide's example server and folder are replaced (``db.lab`` by the throwaway cluster, ``/srv`` by a scratch
folder), and the roles and databases the guide says an administrator made are made first. Every documented
output line must appear in what the command printed (``...`` stands for any text).
"""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "user-guide.md"
BLOCK = re.compile(r"^( *)```(console|python)\n(.*?)^\1```", re.DOTALL | re.MULTILINE)


def guide_steps() -> list[tuple[str, str, list[str]]]:
    """Return the guide's steps in order: ``("shell", command, output lines)`` or ``("python", code, [])``."""
    steps: list[tuple[str, str, list[str]]] = []
    for indent, language, body in BLOCK.findall(GUIDE.read_text(encoding="utf-8")):
        lines = [line[len(indent) :] for line in body.splitlines()]
        if language == "python":
            steps.append(("python", "\n".join(lines), []))
            continue
        command = ""
        for line in lines:
            if command.endswith("\\"):
                command = command[:-1] + " " + line.strip()
            elif line.startswith("$ "):
                if command:
                    steps[-1] = ("shell", command, steps[-1][2])
                command = line[2:]
                steps.append(("shell", command, []))
            elif steps and steps[-1][0] == "shell" and line.strip():
                steps[-1][2].append(line)
        if command:
            steps[-1] = ("shell", command, steps[-1][2])
    return steps


def _matches(documented: str, printed: list[str]) -> bool:
    """Return whether a documented output line appears in the printed ones (``...`` matches any text)."""
    words = documented.split()
    pattern = r"\s+".join(".*" if word == "..." else re.escape(word).replace(r"\.\.\.", ".*") for word in words)
    return any(re.fullmatch(pattern, " ".join(line.split())) for line in printed)


def run_at_a_terminal(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    """Run a command whose standard input is a terminal on which the user answers ``y`` to any question."""
    controller, terminal = pty.openpty()
    try:
        os.write(controller, b"y\n")
        return subprocess.run(
            argv, stdin=terminal, capture_output=True, text=True, env=env, cwd=cwd, timeout=300, check=False
        )
    finally:
        os.close(terminal)
        os.close(controller)


def test_the_guide_is_one_story_of_commands() -> None:
    steps = guide_steps()
    commands = [text for kind, text, _ in steps if kind == "shell"]
    assert len(commands) >= 15, commands
    assert all(command.startswith("provstore ") for command in commands), commands
    assert sum(kind == "python" for kind, _, _ in steps) == 1


def test_the_user_guide_runs_verbatim(tmp_path: Path, pg_cluster) -> None:
    for role in ("lab",):
        pg_cluster.create_role(role)
    for database in ("shared_provenance", "provenance"):
        pg_cluster.create_database(database, owner="lab")
    server = f"--database-hostname {pg_cluster.host} --database-port {pg_cluster.port}"
    home = tmp_path / "home"
    home.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PROVSTORE_CONFIG_DIR", "PROVSTORE_TRACEBACK", "PGPASSWORD", "PGHOST", "PGPORT"}
    }
    env["HOME"] = str(home)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    for kind, text, documented in guide_steps():
        text = text.replace("--database-hostname db.lab", server).replace("/srv/", f"{tmp_path}/srv/")
        if kind == "python":
            argv = [sys.executable, "-c", text]
        else:
            argv = ["bash", "-c", text]
        result = run_at_a_terminal(argv, env, home)
        output = (result.stdout + result.stderr).replace(str(home), "~")
        assert result.returncode == 0, f"{text}\n{output}"
        assert "Traceback" not in output, f"{text}\n{output}"
        printed = output.splitlines()
        for line in documented:
            assert _matches(line, printed), f"{text}: the guide shows {line!r}, the command printed:\n{output}"
    listing = subprocess.run(
        ["provstore", "profile", "list"], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert re.search(r"^\*\s*lab\b", listing.stdout, re.MULTILINE), listing.stdout
    assert "presto" not in listing.stdout and "laptop" not in listing.stdout, listing.stdout
