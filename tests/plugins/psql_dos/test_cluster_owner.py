"""The throwaway-cluster helper changes nothing on the system until a cluster starts, and then only if it must."""

from __future__ import annotations

import pwd
import subprocess
import sys
from pathlib import Path

import pytest
from provstore_psql_dos import testing

IMPORT_AND_BUILD = """
import pwd

def no_such_user(name):  # as on a machine without a postgres user: any owner lookup would lead to useradd
    raise KeyError(name)

pwd.getpwnam = no_such_user
import provstore_psql_dos.testing as testing
import provstore_psql_dos.testing.fixtures
testing.PostgresCluster(bindir="/nonexistent")
"""


def test_import_and_cluster_objects_create_no_user(tmp_path: Path) -> None:
    """Importing the helper and its fixtures and building a cluster object run no user-management command."""
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("useradd", "adduser", "groupadd"):
        (tools / tool).write_text(f"#!/bin/sh\necho {tool} >> {tmp_path / 'called'}\n")
        (tools / tool).chmod(0o755)
    env = {"PATH": f"{tools}:/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", IMPORT_AND_BUILD], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "called").exists()


def _user(name: str) -> pwd.struct_passwd:
    return pwd.struct_passwd((name, "x", 990, 990, "", "/nonexistent", "/usr/sbin/nologin"))


def test_root_uses_an_existing_postgres_user(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_command(*args, **kwargs):
        raise AssertionError(f"ran {args}")

    monkeypatch.setattr(testing.pwd, "getpwnam", lambda name: _user(name))
    monkeypatch.setattr(testing.subprocess, "run", no_command)
    assert testing._service_user().pw_name == "postgres"


def test_root_without_a_postgres_user_creates_the_service_user(monkeypatch: pytest.MonkeyPatch) -> None:
    users: dict[str, pwd.struct_passwd] = {}
    commands: list[list[str]] = []

    def getpwnam(name: str) -> pwd.struct_passwd:
        return users[name]

    def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
        commands.append(command)
        users[command[-1]] = _user(command[-1])
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(testing.pwd, "getpwnam", getpwnam)
    monkeypatch.setattr(testing.subprocess, "run", run)
    assert testing._service_user().pw_name == testing.SERVICE_USER
    assert testing._service_user().pw_name == testing.SERVICE_USER  # the second start finds it
    assert [command[0] for command in commands] == ["useradd"]
