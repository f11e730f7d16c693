"""User paths that must end cleanly (issue 20): interrupts, pipes, misplaced options, typos, narrow terminals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from provstore.cli.output import echo_table


def _script() -> str:
    sibling = Path(sys.executable).parent / "provstore"
    assert sibling.exists(), "the provstore console script is not installed next to the interpreter"
    return str(sibling)


def _setup(provstore_script, name: str, folder: Path) -> None:
    result = provstore_script("profile", "setup", "core.sqlite_dos", "--profile-name", name, "--filepath", str(folder))
    assert result.returncode == 0, result.stderr


def test_misplaced_profile_option_says_where_it_goes(provstore_script):
    result = provstore_script("storage", "info", "-p", "main")
    assert result.returncode == 2
    assert "provstore -p NAME storage info" in result.stderr


def test_mistyped_profile_gets_a_suggestion(provstore_script, tmp_path):
    _setup(provstore_script, "analysis", tmp_path / "analysis")
    result = provstore_script("-p", "analysys", "storage", "info")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "did you mean 'analysis'?" in result.stderr


def test_plugin_list_of_a_name_in_the_other_group_points_there(provstore_script):
    result = provstore_script("plugin", "list", "repository", "core.psql_dos")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Error: 'core.psql_dos' is not a repository backend but a storage backend: "
        "provstore plugin list storage core.psql_dos"
    )


def test_plugin_table_fits_the_terminal_and_keeps_names_whole(provstore_script):
    result = provstore_script("plugin", "list", COLUMNS="80")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert any(line.split()[1] == "core.diskobjectstore" for line in lines[1:])


def test_long_cells_are_cut_to_one_line():
    from click.testing import CliRunner

    def table() -> None:
        echo_table(["name", "status"], [["a", "error: " + "x" * 200 + "\nsecond line"]], width=40)

    import click

    result = CliRunner().invoke(click.command()(table))
    lines = result.output.splitlines()
    assert len(lines) == 2
    assert lines[1].endswith("…") and len(lines[1]) <= 40


def test_plugin_list_into_a_closed_pipe_exits_quietly():
    reader = subprocess.Popen(["head", "-c", "1"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    env = {**os.environ, "COLUMNS": "2000"}
    writer = subprocess.run(
        [_script(), "plugin", "list", "--json"], stdout=reader.stdin, stderr=subprocess.PIPE, env=env, timeout=60
    )
    reader.stdin.close()
    reader.wait(timeout=60)
    assert "Broken pipe" not in writer.stderr.decode()
    assert "Traceback" not in writer.stderr.decode()


def test_setup_reports_every_missing_option_at_once(provstore_script):
    result = provstore_script("profile", "setup", "core.psql_dos", "--profile-name", "x")
    assert result.returncode == 2
    assert "--database-hostname" in result.stderr or "--database-name" in result.stderr
    line = next(line for line in result.stderr.splitlines() if "missing" in line)
    assert line.count("--") >= 2, line


@pytest.mark.slow
def test_ctrl_c_during_a_transfer_prints_one_line_and_exits_130(provstore_script, tmp_path):
    """SIGINT at several moments of a sqlite_dos -> sqlite_dos transfer: always one line, exit status 130."""
    _setup(provstore_script, "source", tmp_path / "source")
    fill = (
        "import provstore\n"
        "from provstore.storage import EntityTypes\n"
        "with provstore.open_storage('source') as s:\n"
        "    user = s.users.create(email='u@example.org').store()\n"
        "    rows = ({'uuid': __import__('uuid').uuid4().hex, 'node_type': 'data.core.int.', 'label': str(i),\n"
        "             'user_id': user.pk, 'attributes': {'value': i}} for i in range(60000))\n"
        "    s.bulk_insert(EntityTypes.NODE, rows, allow_defaults=True)\n"
    )
    subprocess.run([sys.executable, "-c", fill], check=True, timeout=300)
    outcomes = []
    for attempt, delay in enumerate((0.8, 1.2, 1.6, 2.0, 2.4, 3.0)):
        target = f"target{attempt}"
        _setup(provstore_script, target, tmp_path / target)
        process = subprocess.Popen(
            [_script(), "storage", "transfer", "--from", "source", "--to", target],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(delay)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)
        outcomes.append((process.returncode, out, err))
    # a transfer that finished first is not interrupted, whatever the exit status: a SIGINT that lands at the very
    # end of interpreter shutdown (handlers already reset to the default) kills the process silently, status -2
    interrupted = [(code, err) for code, out, err in outcomes if code != 0 and "Transferred source" not in out]
    assert interrupted, f"no transfer was still running when interrupted: {outcomes}"
    for code, err in interrupted:
        assert code == 130, err
        assert err.strip().splitlines() == ["Error: interrupted"], err


@pytest.mark.slow
def test_profile_names_complete_in_the_shell(provstore_script, tmp_path):
    _setup(provstore_script, "alpha", tmp_path / "alpha")
    _setup(provstore_script, "beta", tmp_path / "beta")
    env = {"_PROVSTORE_COMPLETE": "bash_complete", "COMP_WORDS": "provstore -p al", "COMP_CWORD": "2"}
    result = provstore_script(**env)
    assert result.returncode == 0, result.stderr
    assert "alpha" in result.stdout and "beta" not in result.stdout
