"""Connections to the PostgreSQL server of a profile: engines, raw connections, error masking, fork safety.

Every connection this module opens is remembered (weakly) so that a forked child can cut its
inherited sockets loose before anything closes them: libpq's close sends a *terminate* message
that would end the parent's session on the server. :func:`detach_inherited_connections` points
the child's copies of those sockets at ``/dev/null`` first, so the child's clean-up cannot reach
the server, and the child then opens connections of its own.
"""

from __future__ import annotations

import contextlib
import os
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import psycopg2
import sqlalchemy as sa
from provstore.exceptions import AuthenticationRequired, ConfigurationError, UnreachableStorage
from provstore_sql.engine import JSON_ENGINE_KWARGS
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine

if TYPE_CHECKING:
    from provstore_psql_dos.backend import PsqlDosBackend

__all__ = [
    "MAINTENANCE_DATABASE",
    "PASSWORD_ENV_VAR",
    "MissingDatabase",
    "connect",
    "create_engine",
    "describe",
    "detach_inherited_connections",
    "mask",
    "unreachable",
]

MAINTENANCE_DATABASE = "postgres"
"""Database every server has; used to create or look up the profile's database."""

CONNECT_TIMEOUT = 10
"""Seconds to wait for the server before reporting it unreachable."""

_OPENED: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
"""Every psycopg2 connection opened here, mapped to the pid of the process that opened it."""


class MissingDatabase(UnreachableStorage):
    """The server answered but the profile's database does not exist."""


def mask(text: str, password: str | None) -> str:
    """Return ``text`` with every occurrence of ``password`` (plain or URL-quoted) replaced by ``***``."""
    if password:
        from urllib.parse import quote, quote_plus

        for form in {password, quote(password, safe=""), quote_plus(password)}:
            text = text.replace(form, "***")
    return text


def describe(config: PsqlDosBackend.Configuration, database: str | None = None) -> str:
    """Return ``database 'x' at host:port as user 'y'`` for messages (the password is never included)."""
    name = database or config.database_name
    return (
        f"PostgreSQL database {name!r} at {config.database_hostname}:{config.database_port} "
        f"as user {config.database_username!r}"
    )


def _first_line(exc: BaseException) -> str:
    """Return the first non-empty line of an error's message (libpq puts hints on later lines)."""
    lines = [line.strip() for line in str(getattr(exc, "orig", None) or exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


PASSWORD_ENV_VAR = "PGPASSWORD"  # noqa: S105 (the name of a variable, not a password)
"""Environment variable from which libpq takes the password when the profile gives none."""

_REFUSED_CREDENTIALS = ("no password supplied", "password authentication failed")
"""What libpq and the server say when a password is needed, or the one libpq found is not the role's."""


def unreachable(
    config: PsqlDosBackend.Configuration, exc: BaseException, database: str | None = None
) -> UnreachableStorage:
    """Return the one-line error for a failed connection, naming host, port, database and user, password masked.

    The error says where the password came from: the profile (``password: ***``), ``PGPASSWORD``, or nowhere.
    Refused credentials without a password in the profile are :class:`AuthenticationRequired`, so the CLI can
    ask for the password.
    """
    name = database or config.database_name
    password = _password(config)
    reason = mask(_first_line(exc), password)
    if password is not None:
        source = "password: ***"
    elif os.environ.get(PASSWORD_ENV_VAR):
        source = f"password from {PASSWORD_ENV_VAR}"
    else:
        source = "no password given"
    message = f"cannot connect to {describe(config, name)} ({source}): {reason}"
    if f'database "{name}" does not exist' in reason:
        return MissingDatabase(message)
    if password is None and any(words in reason for words in _REFUSED_CREDENTIALS):
        return AuthenticationRequired(message, field="database_password", environment=PASSWORD_ENV_VAR)
    return UnreachableStorage(message)


def _password(config: PsqlDosBackend.Configuration) -> str | None:
    secret = config.database_password
    return secret.get_secret_value() if secret is not None else None


def _connect_kwargs(config: PsqlDosBackend.Configuration) -> dict[str, Any]:
    """Return the psycopg2 keyword arguments shared by raw connections and engines (without the database).

    ``engine_kwargs["connect_args"]`` (e.g. ``sslmode``) apply to every connection, the lock's included.
    """
    extra = config.engine_kwargs.get("connect_args", {})
    if not isinstance(extra, dict):
        raise ConfigurationError("invalid engine_kwargs: 'connect_args' must be a JSON object")
    return {"connect_timeout": CONNECT_TIMEOUT, "application_name": "provstore", **extra}


def connect(config: PsqlDosBackend.Configuration, database: str | None = None) -> Any:
    """Return a new autocommit psycopg2 connection to the profile's database (or ``database``).

    Without a password in the profile none is passed, so libpq uses ``PGPASSWORD`` (or ``~/.pgpass``).

    :raises MissingDatabase: the server is reachable but the database does not exist.
    :raises AuthenticationRequired: the server wants a password and the profile gives none.
    :raises UnreachableStorage: the server cannot be reached or refuses the credentials.
    """
    try:
        connection = psycopg2.connect(
            host=config.database_hostname,
            port=config.database_port,
            user=config.database_username,
            password=_password(config),
            dbname=database or config.database_name,
            **_connect_kwargs(config),
        )
    except psycopg2.Error as exc:
        raise unreachable(config, exc, database) from None
    _OPENED[connection] = os.getpid()
    connection.autocommit = True
    return connection


@contextlib.contextmanager
def connection_to(config: PsqlDosBackend.Configuration, database: str | None = None) -> Iterator[Any]:
    """Yield an autocommit psycopg2 connection (see :func:`connect`) and close it afterwards."""
    connection = connect(config, database)
    try:
        yield connection
    finally:
        connection.close()


def database_exists(config: PsqlDosBackend.Configuration) -> bool:
    """Return whether the profile's database exists (asked of the maintenance database).

    :raises UnreachableStorage: the server cannot be reached or refuses the credentials.
    """
    try:
        with connection_to(config):
            return True
    except MissingDatabase:
        return False


def create_database(config: PsqlDosBackend.Configuration) -> None:
    """Create the profile's database with the profile's own credentials (needs the CREATEDB privilege).

    :raises UnreachableStorage: the database cannot be created (the message says how to set it up instead).
    """
    from provstore_psql_dos.provision import quote_identifier

    with connection_to(config, MAINTENANCE_DATABASE) as connection, connection.cursor() as cursor:
        try:
            name = quote_identifier(config.database_name)
            cursor.execute(f"CREATE DATABASE {name} ENCODING 'UTF8' TEMPLATE template0")
        except psycopg2.errors.DuplicateDatabase:
            return  # created meanwhile by another process: fine
        except psycopg2.Error as exc:
            raise UnreachableStorage(
                f"{describe(config)} does not exist and cannot be created by that user "
                f"({mask(_first_line(exc), _password(config))}); create it with "
                "`provstore profile setup core.psql_dos` given --admin-username (and --admin-password) of a role "
                "that may create roles and databases"
            ) from None


def engine_url(config: PsqlDosBackend.Configuration) -> URL:
    """Return the SQLAlchemy URL of the profile's database (its ``repr``/``str`` masks the password)."""
    return URL.create(
        "postgresql+psycopg2",
        username=config.database_username,
        password=_password(config),
        host=config.database_hostname,
        port=config.database_port,
        database=config.database_name,
    )


def create_engine(config: PsqlDosBackend.Configuration) -> Engine:
    """Return a new engine for the profile's database; ``engine_kwargs`` of the configuration override defaults.

    :raises ConfigurationError: ``engine_kwargs`` holds an argument ``create_engine`` does not accept.
    """
    kwargs: dict[str, Any] = {"pool_pre_ping": False, **JSON_ENGINE_KWARGS, **config.engine_kwargs}
    kwargs["connect_args"] = _connect_kwargs(config)
    try:
        engine = sa.create_engine(engine_url(config), **kwargs)
    except (TypeError, ValueError, sa.exc.ArgumentError) as exc:
        raise ConfigurationError(f"invalid engine_kwargs: {mask(_first_line(exc), _password(config))}") from None

    @event.listens_for(engine, "connect")
    def _remember(dbapi_connection: Any, _record: Any) -> None:
        _OPENED[dbapi_connection] = os.getpid()

    return engine


def detach_inherited_connections() -> None:
    """In a forked child, point every connection inherited from the parent at ``/dev/null``.

    The child's copies of the parent's sockets can then be closed or garbage collected without
    sending anything to the server, so the parent's sessions (and its advisory locks) survive.
    """
    pid = os.getpid()
    inherited = [connection for connection, owner in list(_OPENED.items()) if owner != pid]
    if not inherited:
        return
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        for connection in inherited:
            _OPENED.pop(connection, None)
            with contextlib.suppress(Exception):
                if not connection.closed:
                    os.dup2(devnull, connection.fileno())
    finally:
        os.close(devnull)


os.register_at_fork(after_in_child=detach_inherited_connections)
