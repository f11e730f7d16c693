"""Secrets: database passwords never appear in CLI output, logs, exceptions, get_info or any object's repr/str.

A throwaway cluster with password authentication holds a role whose password is :data:`SECRET`; the
profile is created through the CLI (with an administrator password, :data:`ADMIN_SECRET`), used from
the CLI and the Python API with SQLAlchemy echo and DEBUG logging on, and opened with a wrong
password (:data:`WRONG_SECRET`) and on a port where nothing listens. Every captured text is searched.
"""

from __future__ import annotations

import gc
import json
import logging
import stat
import subprocess
import sys
import traceback
import types
from collections.abc import Iterator
from typing import Any

import pytest
from provstore.config import Config, Profile
from provstore.exceptions import ProvstoreError, UnreachableStorage
from provstore.plugins import resolve_storage_class
from provstore_psql_dos.testing import PostgresCluster, PostgresClusterError

from reliability.figures import record

pytestmark = pytest.mark.postgres

SECRET = "Rel-S3cret_4u%z9Q"
"""Password of the profile's role: distinctive, with a URL escape character."""
ADMIN_SECRET = "Adm1n-S3cret_7k!w"
WRONG_SECRET = "Wr0ng-S3cret_2b#x"
SECRETS = (SECRET, ADMIN_SECRET, WRONG_SECRET)
ROLE, DATABASE = "reliability_owner", "reliability_db"


@pytest.fixture(scope="module")
def password_server() -> Iterator[PostgresCluster]:
    """Yield a throwaway cluster whose TCP connections need a password (superuser password ADMIN_SECRET)."""
    try:
        cluster = PostgresCluster(password=ADMIN_SECRET).start()
    except PostgresClusterError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield cluster
    cluster.stop()


def assert_no_secret(text: str, where: str) -> None:
    """Assert that none of the secrets (nor the URL-escaped form) occurs in ``text``."""
    record("captured outputs searched for secrets")
    for secret in SECRETS:
        for form in (secret, secret.replace("%", "%25"), secret.replace("!", "%21").replace("#", "%23")):
            assert form not in text, f"a password appears in {where}"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI (with the test's configuration directory) and search its output for secrets."""
    record("processes started")
    result = subprocess.run([sys.executable, "-m", "provstore", *args], capture_output=True, text=True, timeout=180)
    assert_no_secret(result.stdout + result.stderr, f"the output of `provstore {' '.join(args)}`")
    return result


_NOT_DATA = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType)


def reachable_objects(*roots: Any, limit: int = 20_000) -> Iterator[Any]:
    """Yield the objects reachable from ``roots`` through attributes and container items (breadth first)."""
    seen: set[int] = set()
    queue = list(roots)
    while queue and len(seen) < limit:
        item = queue.pop(0)
        if id(item) in seen or isinstance(item, _NOT_DATA):
            continue
        seen.add(id(item))
        yield item
        if isinstance(item, dict):
            queue.extend(item.keys())
            queue.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            queue.extend(item)
        elif not isinstance(item, str | bytes | int | float):
            queue.extend(getattr(item, "__dict__", {}).values())
            for slot in getattr(type(item), "__slots__", ()):
                queue.append(getattr(item, slot, None))


def assert_no_secret_in_reprs(*roots: Any) -> int:
    """Assert no reachable object (other than plain strings and containers) shows a secret in repr or str."""
    checked = 0
    for item in reachable_objects(*roots):
        if isinstance(item, str | bytes | dict | list | tuple | set | frozenset | int | float | bool | type(None)):
            continue
        try:
            texts = repr(item) + str(item)
        except Exception:  # some internals cannot be printed at all, which leaks nothing
            continue
        for secret in SECRETS:
            assert secret not in texts, f"a password appears in the repr/str of a {type(item).__qualname__}"
        checked += 1
    record("object reprs searched for secrets", checked)
    return checked


@pytest.mark.slow
def test_password_never_shown(password_server, isolated_config_dir, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    setup = cli(
        "profile", "setup", "core.psql_dos", "--profile-name", "secret", "--email", "a@example.org",
        "--database-hostname", "127.0.0.1", "--database-port", str(password_server.port),
        "--database-username", ROLE, "--database-password", SECRET, "--database-name", DATABASE,
        "--repository-uri", str(tmp_path / "repository"),
        "--admin-username", password_server.user, "--admin-password", ADMIN_SECRET,
    )  # fmt: skip
    assert setup.returncode == 0, setup.stderr

    config_file = isolated_config_dir / "config.json"
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600
    assert SECRET in config_file.read_text()  # stored (readable by its owner only), so it can be used

    with Config.edit() as config:
        profile = config.get_profile("secret")
        for name, changes in {
            "wrong": {"database_password": WRONG_SECRET},
            "nowhere": {"database_port": 1},
            "debug": {"engine_kwargs": {"echo": "debug"}},
        }.items():
            config.add_profile(Profile(name, {**profile.dictionary, "storage": {
                "backend": "core.psql_dos", "config": {**profile.storage_config, **changes}}}))  # fmt: skip

    for args in (
        ["profile", "show", "secret"],
        ["profile", "show", "wrong"],
        ["profile", "list"],
        ["plugin", "list", "storage", "core.psql_dos"],
        ["-p", "secret", "storage", "info", "--detailed"],
        ["-p", "secret", "storage", "info", "--json"],
        ["-p", "debug", "storage", "info"],
        ["-p", "secret", "storage", "version"],
        ["-p", "secret", "storage", "maintain"],
    ):
        result = cli(*args)
        assert result.returncode == 0, result.stderr
    for name in ("wrong", "nowhere"):
        result = cli("-p", name, "storage", "info")
        assert result.returncode == 1 and result.stderr.startswith("Error:"), result.stderr
    refused_setup = cli(
        "profile", "setup", "core.psql_dos", "--profile-name", "other", "--email", "a@example.org",
        "--database-hostname", "127.0.0.1", "--database-port", str(password_server.port),
        "--database-username", "other_owner", "--database-password", SECRET, "--database-name", "other_db",
        "--repository-uri", str(tmp_path / "other"),
        "--admin-username", password_server.user, "--admin-password", WRONG_SECRET,
    )  # fmt: skip
    assert refused_setup.returncode == 1 and "password authentication failed" in refused_setup.stderr

    # the Python API, with SQLAlchemy echoing every statement into the captured log
    debug = Profile("debug", Config.load().get_profile("debug").dictionary)
    storage = resolve_storage_class(debug)(debug)
    node = storage.nodes.create(node_type="data.core.Int.", attributes={"value": 1})
    node.put_object_from_bytes(b"x", "f.txt")
    node.store()
    qb = storage.query()
    qb.append("node", filters={"attributes.value": 1})
    assert len(qb.all()) == 1
    info = storage.get_info(detailed=True)
    assert_no_secret(json.dumps(info, default=str), "get_info")
    storage.maintain()
    assert_no_secret_in_reprs(storage, debug, resolve_storage_class(debug).Configuration(**debug.storage_config))
    storage.close()

    failures = []
    for name in ("wrong", "nowhere"):
        failing = Profile(name, Config.load().get_profile(name).dictionary)
        with pytest.raises(UnreachableStorage) as raised:
            resolve_storage_class(failing)(failing)
        failures.append(raised.value)
        assert_no_secret("".join(traceback.format_exception(raised.value)), f"the traceback of opening {name!r}")
        assert_no_secret(repr(raised.value.__cause__) + repr(raised.value.__context__), "a chained exception")
    assert "password authentication failed" in str(failures[0])

    assert any(record.name.startswith("sqlalchemy.engine") for record in caplog.records), "echo was not on"
    assert_no_secret("\n".join(record.getMessage() for record in caplog.records), "the log")
    assert_no_secret("\n".join(repr(record.__dict__) for record in caplog.records), "log record attributes")
    gc.collect()


def test_configuration_file_modes(isolated_config_dir, caplog):
    """The file is written 0600; a file others can read is loaded with a warning; saving makes it 0600 again."""
    with Config.edit() as config:
        config.add_profile(Profile("p", {"storage": {"backend": "core.sqlite_temp", "config": {}}}))
    path = isolated_config_dir / "config.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    caplog.clear()
    Config.load()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        Config.load()
    assert any("readable by others" in r.getMessage() and "chmod 600" in r.getMessage() for r in caplog.records)
    with Config.edit() as config:  # saving again restores owner-only access
        config.set_default_profile("p")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_secret_fields_are_masked_in_configuration_models(tmp_path):
    """The pydantic configuration hides the password in repr, str and JSON dumps."""
    from provstore_psql_dos.backend import PsqlDosBackend

    config = PsqlDosBackend.Configuration(
        database_username="u", database_password=SECRET, database_name="d", repository_uri=str(tmp_path)
    )
    assert_no_secret(repr(config) + str(config) + config.model_dump_json(), "the configuration model")
    incomplete = Profile("x", {"storage": {"backend": "core.psql_dos", "config": {"database_password": SECRET}}})
    with pytest.raises(ProvstoreError) as raised:
        resolve_storage_class(incomplete)(incomplete)
    assert_no_secret(str(raised.value), "a configuration error")
