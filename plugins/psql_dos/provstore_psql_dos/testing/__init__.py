"""Throwaway PostgreSQL servers for tests and benchmarks: start a private cluster, hand out databases, remove it all.

``PostgresCluster`` runs ``initdb`` into a temporary folder and starts ``postgres`` bound to
127.0.0.1 only, on a free port, with its unix socket inside that folder and durability settings
off (fsync, synchronous commit) because the data is thrown away. It stops the server and deletes
the folder on :meth:`PostgresCluster.stop`, at interpreter exit, and (on Linux) the server dies
with the process that started it, so no stray servers survive a crashed test run.

PostgreSQL refuses to run as root. Started by root, a cluster belongs to the system user ``postgres``
when there is one, else to :data:`SERVICE_USER`, which :meth:`PostgresCluster.start` creates then, and
only then: importing this module or building a cluster object changes nothing on the system.

``ExternalPostgres`` wraps a server the user already has (``PROVSTORE_TEST_PG_DSN``) behind the
same interface; :func:`test_server` picks one of the two. The pytest fixtures ``pg_cluster`` and
``pg_database`` built on them are in :mod:`provstore_psql_dos.testing.fixtures`.

Third-party backend authors may use both::

    with PostgresCluster() as cluster:
        params = cluster.create_database("mydb")   # host, port, user, password, dbname
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import psycopg2
from provstore.exceptions import ProvstoreError

__all__ = [
    "DSN_ENV_VAR",
    "ExternalPostgres",
    "PostgresCluster",
    "PostgresClusterError",
    "PostgresServer",
    "find_bindir",
    "test_server",
]

DSN_ENV_VAR = "PROVSTORE_TEST_PG_DSN"
"""Environment variable naming an existing server (``postgresql://user:pass@host:port/db``) to test against."""

BINDIR_ENV_VAR = "PROVSTORE_PG_BINDIR"
"""Environment variable naming the folder holding ``initdb`` and ``postgres``, overriding the search."""

SERVICE_USER = "provstore-pg"
"""System user that owns the clusters root starts when no ``postgres`` user exists; created by the first such start."""

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_INSTALL_HINT = "install the Debian package 'postgresql' (apt-get install postgresql) or set PROVSTORE_PG_BINDIR"


class PostgresClusterError(ProvstoreError):
    """A throwaway PostgreSQL server could not be found, started or used."""


def find_bindir() -> str:
    """Return the folder holding the PostgreSQL server binaries ``initdb`` and ``postgres``.

    Looks at ``$PROVSTORE_PG_BINDIR``, ``pg_config --bindir``, ``/usr/lib/postgresql/<newest>/bin``
    and finally ``PATH``.

    :raises PostgresClusterError: no server binaries are installed (the message says how to install them).
    """
    candidates: list[str] = []
    if os.environ.get(BINDIR_ENV_VAR):
        candidates.append(os.environ[BINDIR_ENV_VAR])
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            result = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=False)
            if result.returncode == 0 and result.stdout.strip():
                candidates.append(result.stdout.strip())
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    candidates.extend(sorted(versions, key=_version_key, reverse=True))
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(os.path.dirname(os.path.realpath(initdb)))
    for folder in candidates:
        if all(os.access(os.path.join(folder, name), os.X_OK) for name in ("initdb", "postgres")):
            return folder
    raise PostgresClusterError(f"PostgreSQL server binaries (initdb, postgres) not found: {_INSTALL_HINT}")


def _version_key(path: str) -> tuple[int, ...]:
    """Sort key of ``/usr/lib/postgresql/<version>/bin`` folders, newest last."""
    version = path.split(os.sep)[-2]
    return tuple(int(part) for part in re.findall(r"\d+", version))


def _check_identifier(name: str, what: str) -> str:
    """Return ``name`` if it is a plain SQL identifier, so it can be quoted safely; raise otherwise."""
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise PostgresClusterError(f"invalid {what} name {name!r}: use letters, digits and underscores (max 63)")
    return name


class PostgresServer:
    """A reachable PostgreSQL server and superuser credentials; creates and drops databases on it."""

    def __init__(self, host: str, port: int, user: str, password: str | None, dbname: str = "postgres") -> None:
        """Describe a server; nothing is contacted until a method needs it."""
        self.host = host
        self.port = int(port)
        self.user = user
        self._password = password
        self.dbname = dbname

    @property
    def password(self) -> str | None:
        """Return the superuser's password (None with trust authentication)."""
        return self._password

    def connection_params(self, dbname: str | None = None) -> dict[str, Any]:
        """Return keyword arguments for ``psycopg2.connect`` to ``dbname`` (default: the maintenance database)."""
        params: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "dbname": dbname or self.dbname,
        }
        if self._password is not None:
            params["password"] = self._password
        return params

    def dsn(self, dbname: str | None = None) -> str:
        """Return a ``postgresql://`` URL to ``dbname`` (it contains the password, if any: do not print it)."""
        auth = quote(self.user, safe="")
        if self._password is not None:
            auth += ":" + quote(self._password, safe="")
        return f"postgresql://{auth}@{self.host}:{self.port}/{quote(dbname or self.dbname, safe='')}"

    def storage_config(self, dbname: str) -> dict[str, Any]:
        """Return the connection settings of database ``dbname`` as a ``core.psql_dos`` configuration expects them."""
        return {
            "database_hostname": self.host,
            "database_port": self.port,
            "database_username": self.user,
            "database_password": self._password,
            "database_name": dbname,
        }

    def connect(self, dbname: str | None = None) -> Any:
        """Return a new autocommit psycopg2 connection to ``dbname``."""
        connection = psycopg2.connect(**self.connection_params(dbname), connect_timeout=10)
        connection.autocommit = True
        return connection

    def execute(self, sql: str, params: tuple[Any, ...] | None = None, dbname: str | None = None) -> list[tuple]:
        """Run one statement in autocommit mode on ``dbname`` and return its rows (empty if none)."""
        connection = self.connect(dbname)
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall() if cursor.description else []
        finally:
            connection.close()

    def create_database(self, name: str, owner: str | None = None) -> dict[str, Any]:
        """Create database ``name`` (owned by ``owner`` if given) and return its connection parameters."""
        _check_identifier(name, "database")
        owner_sql = f' OWNER "{_check_identifier(owner, "role")}"' if owner else ""
        self.execute(f"CREATE DATABASE \"{name}\"{owner_sql} TEMPLATE template0 ENCODING 'UTF8'")
        return self.connection_params(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` if it exists, disconnecting its remaining sessions first."""
        _check_identifier(name, "database")
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def create_role(self, name: str, password: str | None = None) -> None:
        """Create a login role ``name`` with ``password`` (no password: trust/peer only)."""
        _check_identifier(name, "role")
        if password is None:
            self.execute(f'CREATE ROLE "{name}" LOGIN')
        else:
            self.execute(f'CREATE ROLE "{name}" LOGIN PASSWORD %s', (password,))

    def drop_role(self, name: str) -> None:
        """Drop role ``name`` if it exists."""
        self.execute(f'DROP ROLE IF EXISTS "{_check_identifier(name, "role")}"')

    def stop(self) -> None:
        """Release the server (nothing to do for a server this object does not own)."""

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(host={self.host!r}, port={self.port}, user={self.user!r})"


class ExternalPostgres(PostgresServer):
    """An existing server given by a ``postgresql://user:password@host:port/dbname`` URL; never stopped by us."""

    @classmethod
    def from_dsn(cls, dsn: str) -> ExternalPostgres:
        """Parse ``dsn`` into a server description.

        :raises PostgresClusterError: the URL is not a ``postgresql://`` URL with a user.
        """
        parts = urlsplit(dsn)
        if parts.scheme not in ("postgres", "postgresql") or not parts.username:
            raise PostgresClusterError(f"{DSN_ENV_VAR} must look like postgresql://user:password@host:port/dbname")
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            user=unquote(parts.username),
            password=unquote(parts.password) if parts.password is not None else None,
            dbname=unquote(parts.path.lstrip("/")) or "postgres",
        )


class PostgresCluster(PostgresServer):
    """A private PostgreSQL server in a temporary folder, bound to 127.0.0.1 on a free port; removed on stop.

    :param password: superuser password; None gives trust authentication (no password needed).
    :param user: name of the superuser role.
    :param bindir: folder of the server binaries (default: :func:`find_bindir`).
    :param settings: extra ``postgres -c name=value`` settings.
    """

    def __init__(
        self,
        password: str | None = None,
        user: str = "postgres",
        bindir: str | None = None,
        settings: dict[str, str] | None = None,
    ) -> None:
        super().__init__(host="127.0.0.1", port=0, user=_check_identifier(user, "role"), password=password)
        self.bindir = bindir or find_bindir()
        self.settings = dict(settings or {})
        self.basedir: str | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self, timeout: float = 60.0) -> PostgresCluster:
        """Create the cluster and start its server; return self once it accepts connections.

        :raises PostgresClusterError: initdb or the server failed (the message holds their output).
        """
        if self._process is not None:
            return self
        owner = _service_user() if os.geteuid() == 0 else None
        self.basedir = tempfile.mkdtemp(prefix="provstore-pg-")
        self._finalizer = weakref.finalize(self, _cleanup, self.basedir, None)
        if owner is not None:
            os.chown(self.basedir, owner.pw_uid, owner.pw_gid)
        try:
            self._initdb(owner)
            for _attempt in range(3):  # the free port may be taken between choosing and binding it
                self.port = _free_port()
                if self._launch(owner, timeout):
                    return self
            raise PostgresClusterError(f"could not start PostgreSQL: {self._log_tail()}")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete the cluster's folder; safe to call twice."""
        if self._finalizer is not None:
            self._finalizer()  # runs _cleanup once and detaches itself
        self._process = None
        self._finalizer = None
        self.basedir = None

    @property
    def is_running(self) -> bool:
        """Return whether the server process is alive."""
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> PostgresCluster:
        return self.start()

    # ------------------------------------------------------------------ internals
    @property
    def _datadir(self) -> str:
        assert self.basedir is not None
        return os.path.join(self.basedir, "data")

    def _run_as(self, owner: pwd.struct_passwd | None) -> dict[str, Any]:
        """Return Popen keyword arguments that run a command as ``owner`` (root may not run PostgreSQL)."""
        kwargs: dict[str, Any] = {"cwd": self.basedir, "env": {**os.environ, "LC_ALL": "C", "LANG": "C"}}
        if owner is not None:
            kwargs.update(user=owner.pw_uid, group=owner.pw_gid, extra_groups=[])
            kwargs["env"]["HOME"] = self.basedir
        return kwargs

    def _initdb(self, owner: pwd.struct_passwd | None) -> None:
        """Run ``initdb`` into ``<basedir>/data`` with a superuser and the chosen authentication."""
        command = [
            os.path.join(self.bindir, "initdb"),
            "-D",
            self._datadir,
            "-U",
            self.user,
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
            "--auth-local=trust",
        ]
        if self.password is None:
            command.append("--auth-host=trust")
        else:
            pwfile = os.path.join(self.basedir or "", "pwfile")
            with open(os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
                handle.write(self.password + "\n")
            if owner is not None:
                os.chown(pwfile, owner.pw_uid, owner.pw_gid)
            command += ["--auth-host=scram-sha-256", f"--pwfile={pwfile}"]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=120, **self._run_as(owner))
        finally:
            if self.password is not None:
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(self.basedir or "", "pwfile"))
        if result.returncode != 0:
            output = (result.stderr or result.stdout).strip().splitlines()
            raise PostgresClusterError(f"initdb failed: {' | '.join(output[-5:])}")

    def _launch(self, owner: pwd.struct_passwd | None, timeout: float) -> bool:
        """Start ``postgres`` on ``self.port``; return True when ready, False if the port was taken."""
        assert self.basedir is not None
        socket_dir = os.path.join(self.basedir, "socket")
        os.makedirs(socket_dir, exist_ok=True)
        if owner is not None:
            os.chown(socket_dir, owner.pw_uid, owner.pw_gid)
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": socket_dir,
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "200",
            "logging_collector": "off",
            **self.settings,
        }
        command = [os.path.join(self.bindir, "postgres"), "-D", self._datadir]
        for name, value in settings.items():
            command += ["-c", f"{name}={value}"]
        log = open(os.path.join(self.basedir, "server.log"), "ab")  # handed to the child, closed below
        try:
            process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # the death signal follows the *thread* that started the server: only tie it to the main thread
                preexec_fn=_die_with_parent if threading.current_thread() is threading.main_thread() else None,
                **self._run_as(owner),
            )
        finally:
            log.close()
        self._process = process
        assert self._finalizer is not None
        self._finalizer.detach()
        self._finalizer = weakref.finalize(self, _cleanup, self.basedir, process)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                if "could not bind" in self._log_tail() or "already in use" in self._log_tail():
                    return False
                raise PostgresClusterError(f"PostgreSQL exited at start: {self._log_tail()}")
            if self._ready():
                return True
            time.sleep(0.05)
        raise PostgresClusterError(f"PostgreSQL did not accept connections within {timeout:.0f} s: {self._log_tail()}")

    def _ready(self) -> bool:
        """Return whether the server accepts a TCP connection and answers a query."""
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.settimeout(0.5)
            if probe.connect_ex((self.host, self.port)) != 0:
                return False
        try:
            self.execute("SELECT 1")
        except Exception as exc:
            if "starting up" in str(exc) or "Connection refused" in str(exc):
                return False
            raise
        return True

    def _log_tail(self, lines: int = 5) -> str:
        """Return the last lines of the server log, joined on one line."""
        try:
            with open(os.path.join(self.basedir or "", "server.log"), errors="replace") as handle:
                return " | ".join(handle.read().strip().splitlines()[-lines:])
        except OSError:
            return "(no server log)"


def _service_user() -> pwd.struct_passwd:
    """Return the unprivileged system user that owns clusters started by root, creating it if needed."""
    for name in ("postgres", SERVICE_USER):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    result = subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise PostgresClusterError(
            f"PostgreSQL refuses to run as root and no 'postgres' user exists; useradd failed: {result.stderr.strip()}"
        )
    return pwd.getpwnam(SERVICE_USER)


def _free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _die_with_parent() -> None:
    """Ask Linux to stop the server (immediate shutdown) when the process that started it dies."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            pr_set_pdeathsig = 1
            ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGQUIT)


def _cleanup(basedir: str, process: subprocess.Popen[bytes] | None) -> None:
    """Stop ``process`` (fast shutdown, then kill) and delete ``basedir``; used by stop() and at exit."""
    if process is not None and process.poll() is None:
        process.send_signal(signal.SIGINT)  # fast shutdown: disconnect clients, no checkpoint wait
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    shutil.rmtree(basedir, ignore_errors=True)


def test_server() -> PostgresServer:
    """Return the server tests should use: ``$PROVSTORE_TEST_PG_DSN`` if set, else a started throwaway cluster."""
    dsn = os.environ.get(DSN_ENV_VAR)
    if dsn:
        return ExternalPostgres.from_dsn(dsn)
    return PostgresCluster().start()


test_server.__test__ = False  # type: ignore[attr-defined]  # not a pytest test despite its name
