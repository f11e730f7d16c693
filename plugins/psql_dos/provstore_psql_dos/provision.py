"""Create the role and the database of a ``core.psql_dos`` profile with administrator credentials.

Used by ``provstore profile setup core.psql_dos`` when the user gives an administrator account;
with existing role and database nothing is changed (the role's password is never reset).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import psycopg2
from provstore.exceptions import AuthenticationRequired, ConfigurationError, UnreachableStorage
from psycopg2.extensions import encrypt_password

from provstore_psql_dos.connection import MAINTENANCE_DATABASE, connect, mask

if TYPE_CHECKING:
    from provstore_psql_dos.backend import PsqlDosBackend

__all__ = ["provision", "quote_identifier"]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$-]{0,62}$")


def quote_identifier(name: str) -> str:
    """Return ``name`` double-quoted for SQL; refuse names that are not plain identifiers (no injection).

    :raises ConfigurationError: the name holds characters other than letters, digits, ``_``, ``$`` and ``-``.
    """
    if not _IDENTIFIER.match(name):
        raise ConfigurationError(
            f"invalid PostgreSQL name {name!r}: use letters, digits, '_', '$' or '-' (at most 63, not starting with "
            "a digit)"
        )
    return f'"{name}"'


@contextlib.contextmanager
def _administrator_connection(admin: PsqlDosBackend.Configuration) -> Iterator[Any]:
    """Yield a connection to the maintenance database as the administrator, closed afterwards.

    :raises AuthenticationRequired: for field ``admin_password`` (the setup option), not the profile's password.
    """
    try:
        connection = connect(admin, MAINTENANCE_DATABASE)
    except AuthenticationRequired as exc:
        raise AuthenticationRequired(str(exc), field="admin_password", environment=exc.environment) from None
    except UnreachableStorage as exc:
        password = admin.database_password.get_secret_value() if admin.database_password is not None else None
        raise UnreachableStorage(
            f"the administrator given with --admin-username {admin.database_username!r} (and --admin-password) "
            f"cannot connect: {mask(str(exc), password)}"
        ) from None
    with contextlib.closing(connection):
        yield connection


def provision(
    config: PsqlDosBackend.Configuration,
    admin_username: str,
    admin_password: str | None = None,
) -> dict[str, bool]:
    """Create the profile's login role (with its password) and its database owned by it, where missing.

    Connects as ``admin_username`` to the same host and port. Returns which of the two were created. If the
    role then cannot connect (e.g. it was created without the password the server asks for), what was created
    is dropped again before the error is raised.

    :raises AuthenticationRequired: the server wants the administrator's password and none was given.
    :raises UnreachableStorage: the administrator cannot connect, or lacks the rights to create them.
    """
    from pydantic import SecretStr

    role = quote_identifier(config.database_username)
    database = quote_identifier(config.database_name)
    admin = config.model_copy(
        update={
            "database_username": admin_username,
            "database_password": SecretStr(admin_password) if admin_password is not None else None,
        }
    )
    password = config.database_password.get_secret_value() if config.database_password is not None else None
    created = {"role": False, "database": False}
    with _administrator_connection(admin) as connection, connection.cursor() as cursor:
        try:
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (config.database_username,))
            if cursor.fetchone() is None:
                if password is None:
                    cursor.execute(f"CREATE ROLE {role} LOGIN")
                else:
                    # hashed by libpq (SCRAM) first: the plain password never reaches the server or its logs
                    hashed = encrypt_password(password, config.database_username, connection)
                    cursor.execute(f"CREATE ROLE {role} LOGIN PASSWORD %s", (hashed,))
                created["role"] = True
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (config.database_name,))
            if cursor.fetchone() is None:
                cursor.execute(f"CREATE DATABASE {database} OWNER {role} ENCODING 'UTF8' TEMPLATE template0")
                created["database"] = True
        except psycopg2.Error as exc:
            reason = mask(mask(str(exc).strip().splitlines()[0], password), admin_password)
            raise UnreachableStorage(
                f"administrator {admin_username!r} could not create role {config.database_username!r} or database "
                f"{config.database_name!r} at {config.database_hostname}:{config.database_port}: {reason}; give "
                "--admin-username (and --admin-password) of a role that may create roles and databases"
            ) from None
    if created["role"] or created["database"]:
        _check_or_undo(config, admin, created)
    return created


def _check_or_undo(
    config: PsqlDosBackend.Configuration, admin: PsqlDosBackend.Configuration, created: dict[str, bool]
) -> None:
    """Connect as the profile's role; if that fails, drop the database and role just created, then re-raise.

    A role created without a password on a server that wants one cannot log in: leaving it would make the same
    setup, given the password this time, fail again on a role that exists without it.
    """
    try:
        connect(config, config.database_name).close()
    except UnreachableStorage:
        with _administrator_connection(admin) as connection, connection.cursor() as cursor:
            if created["database"]:
                cursor.execute(f"DROP DATABASE IF EXISTS {quote_identifier(config.database_name)}")
            if created["role"]:
                cursor.execute(f"DROP ROLE IF EXISTS {quote_identifier(config.database_username)}")
        raise
