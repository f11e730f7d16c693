"""The real ``provstore`` console script in a subprocess: version, errors as one line, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

from provstore import __version__
from provstore.config import CONFIG_FILENAME


def test_version(provstore_script):
    result = provstore_script("--version")
    assert (result.returncode, result.stdout) == (0, f"provstore {__version__}\n")
    module = subprocess.run([sys.executable, "-m", "provstore", "--version"], capture_output=True, text=True)
    assert module.stdout == result.stdout


def test_help_lists_the_command_groups(provstore_script):
    result = provstore_script("--help")
    assert result.returncode == 0
    for command in ("plugin", "presto", "profile", "storage"):
        assert f"  {command} " in result.stdout


def test_plugin_list_runs_in_a_fresh_process(provstore_script):
    result = provstore_script("plugin", "list", "--json")
    assert result.returncode == 0, result.stderr
    names = {row["name"] for row in json.loads(result.stdout)}
    assert {"core.sandbox", "core.diskobjectstore"} <= names


def test_unknown_profile_is_one_error_line(provstore_script):
    result = provstore_script("-p", "nope", "storage", "info")
    assert result.returncode == 1
    assert result.stderr == "Error: profile 'nope' does not exist; existing profiles: none\n"


def test_usage_error_exits_with_2(provstore_script):
    result = provstore_script("plugin", "list", "--bogus")
    assert result.returncode == 2
    assert "No such option" in result.stderr and "--bogus" in result.stderr


def test_corrupt_config_is_reported_and_left_alone(provstore_script, isolated_config_dir):
    path = isolated_config_dir / CONFIG_FILENAME
    path.write_text('{"version": 1, "profiles": {"a": ')
    path.chmod(0o600)
    for args in (["storage", "info"], ["profile", "list"], ["presto"]):
        result = provstore_script(*args)
        assert result.returncode == 1, args
        assert result.stderr.startswith(f"Error: configuration file {path} is not valid JSON"), args
        assert result.stderr.count("\n") == 1
    assert path.read_text() == '{"version": 1, "profiles": {"a": '


def test_traceback_only_on_request(provstore_script):
    assert "Traceback" not in provstore_script("-p", "nope", "storage", "info").stderr
    result = provstore_script("-p", "nope", "storage", "info", PROVSTORE_TRACEBACK="1")
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "ProfileNotFound" in result.stderr
