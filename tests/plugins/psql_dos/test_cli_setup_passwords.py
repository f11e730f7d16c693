"""``profile setup core.psql_dos`` without a password on the command line: a file, PGPASSWORD, or a prompt.

Every test runs against the password cluster (TCP connections need a password) with a role of its own, so
that a password that is not passed on reaches the server as ``fe_sendauth: no password supplied``.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
import uuid
from pathlib import Path

import provstore
import pytest
from psql_helpers import PASSWORD, setup_args

pytestmark = pytest.mark.postgres

ROLE_PASSWORD = "pw ' \" %41 from-file"
"""Password of the test role: quotes, a space and a URL escape, so that masking and file reading are tested hard."""


@pytest.fixture
def role(password_cluster, monkeypatch, tmp_path):
    """Yield ``(role, database)``: a login role with ``ROLE_PASSWORD`` owning a fresh database; dropped after."""
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-pgpass"))  # a ~/.pgpass of the machine must not answer
    suffix = uuid.uuid4().hex[:10]
    names = (f"role_{suffix}", f"db_{suffix}")
    password_cluster.create_role(names[0], ROLE_PASSWORD)
    password_cluster.create_database(names[1], owner=names[0])
    yield names
    password_cluster.drop_database(names[1])
    password_cluster.drop_role(names[0])


def _saved(name: str) -> dict:
    config = json.loads((Path(os.environ["PROVSTORE_CONFIG_DIR"]) / "config.json").read_text())
    return config["profiles"][name]["storage"]["config"]


def test_password_files_are_read_and_never_printed(run, password_cluster, tmp_path, monkeypatch):
    monkeypatch.delenv("PGPASSWORD", raising=False)
    suffix = uuid.uuid4().hex[:10]
    role, database = f"role_{suffix}", f"db_{suffix}"
    (tmp_path / "role-pw").write_text(ROLE_PASSWORD + "\n")  # as `echo` writes it: the newline is not part of it
    (tmp_path / "admin-pw").write_text(PASSWORD)
    args = setup_args(password_cluster, role, database, tmp_path)
    try:
        result = run(
            *args,
            "--database-password-file", str(tmp_path / "role-pw"),
            "--admin-username", password_cluster.user, "--admin-password-file", str(tmp_path / "admin-pw"),
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert _saved("pg")["database_password"] == ROLE_PASSWORD
        shown = run("profile", "show", "pg").output
        assert ROLE_PASSWORD not in result.output + shown and PASSWORD not in result.output + shown
        with provstore.open_storage("pg") as storage:  # the role was created with the file's password
            assert storage.get_info()["database"]["user"] == role
    finally:
        password_cluster.drop_database(database)
        password_cluster.drop_role(role)


def test_an_unreadable_or_doubled_password_file_is_refused_in_one_line(run, password_cluster, role, tmp_path):
    args = setup_args(password_cluster, *role, tmp_path)
    missing = run(*args, "--database-password-file", str(tmp_path / "nope"))
    assert missing.exit_code == 1
    assert (
        missing.output
        == f"Error: cannot read --database-password-file {tmp_path / 'nope'}: No such file or directory\n"
    )
    (tmp_path / "empty").write_text("\n")
    assert run(*args, "--database-password-file", str(tmp_path / "empty")).output.endswith("is empty\n")
    (tmp_path / "pw").write_text(ROLE_PASSWORD)
    both = run(*args, "--database-password-file", str(tmp_path / "pw"), "--database-password", ROLE_PASSWORD)
    assert both.exit_code == 2 and "give --database-password or --database-password-file, not both" in both.output
    assert run("profile", "list").output.startswith("No profiles")


def test_pgpassword_is_used_and_errors_say_where_the_password_came_from(run, password_cluster, role, tmp_path):
    args = setup_args(password_cluster, *role, tmp_path)
    os.environ["PGPASSWORD"] = "wrong-" + ROLE_PASSWORD  # restored by the role fixture's monkeypatch
    refused = run(*args)
    assert refused.exit_code == 1 and refused.output.count("\n") == 1, refused.output
    assert "(password from PGPASSWORD): " in refused.output and "password authentication failed" in refused.output
    assert "password: ***" not in refused.output and "wrong-" not in refused.output

    os.environ["PGPASSWORD"] = ROLE_PASSWORD
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert _saved("pg")["database_password"] is None  # kept out of config.json: PGPASSWORD is read at every run
    with provstore.open_storage("pg") as storage:
        assert storage.nodes.count() == 0


def test_without_a_password_and_a_terminal_the_error_says_how_to_give_one(run, password_cluster, role, tmp_path):
    result = run(*setup_args(password_cluster, *role, tmp_path))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert len(lines) == 1, result.output
    assert "(no password given): " in lines[0] and "fe_sendauth: no password supplied" in lines[0]
    assert "password: ***" not in lines[0]  # the old message claimed a password even when none was given
    assert lines[0].endswith(
        "give the password with --database-password-file PATH, the environment variable PGPASSWORD "
        "or --database-password"
    )
    assert run("profile", "list").output.startswith("No profiles")


def _read_until(fd: int, wanted: bytes, seen: bytearray, timeout: float = 60.0) -> None:
    """Append what the terminal prints to ``seen`` until ``wanted`` appears (or fail after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while wanted not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"{wanted!r} never printed; the terminal showed {bytes(seen)!r}"
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the other side closed: the process ended
                chunk = b""
            assert chunk, f"{wanted!r} never printed; the terminal showed {bytes(seen)!r}"
            seen.extend(chunk)


def test_at_a_terminal_the_password_is_asked_for_without_echo(password_cluster, role, tmp_path):
    script = Path(sys.executable).parent / "provstore"
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [str(script), *setup_args(password_cluster, *role, tmp_path)],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        start_new_session=True,  # no controlling terminal: the prompt reads this pty, never the test runner's
        env={key: value for key, value in os.environ.items() if key != "PROVSTORE_TRACEBACK"},
    )
    os.close(terminal)
    seen = bytearray()
    try:
        _read_until(controller, b"Database password (the server asks for --database-password): ", seen)
        os.write(controller, ROLE_PASSWORD.encode() + b"\n")
        _read_until(controller, b"Created profile 'pg'", seen)
        assert process.wait(timeout=60) == 0, bytes(seen)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(controller)
    assert ROLE_PASSWORD.encode() not in seen  # not echoed, not printed
    assert _saved("pg")["database_password"] == ROLE_PASSWORD
    with provstore.open_storage("pg") as storage:
        assert storage.get_info()["database"]["user"] == role[0]


def test_storage_init_of_a_hand_written_profile_says_how_to_give_the_password(run, password_cluster, role, tmp_path):
    from provstore.config import Config, Profile

    settings = {
        "database_hostname": password_cluster.host,
        "database_port": password_cluster.port,
        "database_username": role[0],
        "database_name": role[1],
        "repository_uri": str(tmp_path / "files"),
    }
    with Config.edit() as config:  # as a user writing config.json by hand would: no password in it
        config.add_profile(Profile("hand", {"storage": {"backend": "core.psql_dos", "config": settings}}))
    refused = run("-p", "hand", "storage", "init")
    assert refused.exit_code == 1 and refused.output.count("\n") == 1, refused.output
    assert "(no password given)" in refused.output
    assert refused.output.endswith(
        "give it as 'database_password' in the profile's configuration or in the environment variable PGPASSWORD\n"
    )
    os.environ["PGPASSWORD"] = ROLE_PASSWORD  # restored by the role fixture's monkeypatch
    result = run("-p", "hand", "storage", "init")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Initialised the storage of profile 'hand' on core.psql_dos (schema version ")
    with provstore.open_storage("hand") as storage:
        assert storage.get_info()["database"]["database"] == role[1]


def test_a_missing_administrator_password_names_the_administrator_options(run, password_cluster, role, tmp_path):
    result = run(*setup_args(password_cluster, *role, tmp_path), "--admin-username", password_cluster.user)
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert f"as user {password_cluster.user!r} (no password given)" in result.output
    assert result.output.endswith(
        "give the password with --admin-password-file PATH, the environment variable PGPASSWORD or --admin-password\n"
    )


def test_a_role_created_without_a_password_the_server_then_wants_is_not_left_behind(
    run, password_cluster, tmp_path, monkeypatch
):
    """Setup that creates a role without a password, which the server then refuses, undoes what it created:
    the same setup with the password given succeeds (the role is created with it)."""
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-pgpass"))
    suffix = uuid.uuid4().hex[:10]
    role, database = f"role_{suffix}", f"db_{suffix}"
    (tmp_path / "admin-pw").write_text(PASSWORD)
    (tmp_path / "role-pw").write_text(ROLE_PASSWORD)
    args = [
        *setup_args(password_cluster, role, database, tmp_path),
        "--admin-username", password_cluster.user, "--admin-password-file", str(tmp_path / "admin-pw"),
    ]  # fmt: skip
    try:
        result = run(*args)
        assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
        assert "--database-password-file" in result.output
        assert not password_cluster.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
        assert not password_cluster.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
        result = run(*args, "--database-password-file", str(tmp_path / "role-pw"))
        assert result.exit_code == 0, result.output
        with provstore.open_storage("pg") as storage:
            assert storage.get_info()["database"]["user"] == role
    finally:
        password_cluster.drop_database(database)
        password_cluster.drop_role(role)
