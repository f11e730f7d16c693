"""Engine settings shared by the SQL backends: JSON serialisation and the SQLite connection setup."""

from __future__ import annotations

import errno
import json
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from provstore.exceptions import LockedProfileError, StorageFull
from sqlalchemy import Engine, event
from sqlalchemy import exc as sa_exc

__all__ = [
    "BEGIN_MODE_OPTION",
    "JSON_ENGINE_KWARGS",
    "LOW_SPACE_BYTES",
    "configure_sqlite_engine",
    "database_locked",
    "is_database_locked",
    "is_disk_full",
    "json_dumps",
    "storage_full",
    "translate_disk_full",
]

_encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode

_REWRITTEN_NUMBERS = re.compile(r'"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?e\+\d+|-0\.0(?![0-9e])')
"""Strings of the encoder's output (matched whole, so their content is skipped), and the two number forms
that :func:`json_dumps` rewrites: floats written with a positive exponent, and negative zero."""


def _exact_number(match: re.Match[str]) -> str:
    text = match.group()
    if text[0] == '"':
        return text
    if text == "-0.0":
        return "0.0"
    return f"{int(float(text))}.0"  # |value| >= 1e16, hence integral: its exact digits, marked as a float


def json_dumps(value: Any) -> str:
    """Serialise JSON columns so that every database reads back the values and types that were written.

    Unicode stays as is and NaN/Infinity are refused (not valid JSON). PostgreSQL's ``jsonb`` keeps numbers
    as ``numeric``, which drops an exponent (``5.3e+16`` would read back as an ``int``) and the sign of zero,
    so a float with a positive exponent (always integral) is written as its exact integer plus ``.0`` and
    ``-0.0`` as ``0.0``, on every backend alike. The encoder is built once, the output is scanned again
    only when it may hold such a float, and the common empty dict is answered without encoding.
    """
    if type(value) is dict and not value:
        return "{}"
    text = _encode(value)
    if "e+" in text or "-0.0" in text:
        return _REWRITTEN_NUMBERS.sub(_exact_number, text)
    return text


JSON_ENGINE_KWARGS: dict[str, Any] = {"json_serializer": json_dumps, "json_deserializer": json.loads}
"""Keyword arguments of ``create_engine`` that every SQL backend passes."""

BEGIN_MODE_OPTION = "provstore_sqlite_begin"
"""Connection execution option naming the SQLite ``BEGIN`` mode (``IMMEDIATE``); absent: no transaction."""


def configure_sqlite_engine(engine: Engine, pragmas: Mapping[str, str | int]) -> None:
    """Let SQLAlchemy, not the driver, decide when SQLite transactions begin, and set ``pragmas`` on each connection.

    The ``pysqlite`` driver otherwise begins transactions lazily by itself, which breaks SAVEPOINTs.
    A transaction opened with the execution option :data:`BEGIN_MODE_OPTION` set to ``"IMMEDIATE"``
    (what :meth:`SqlStorageBackend.transaction` does) takes the write lock at once, so concurrent writers
    wait for each other (up to the busy timeout) instead of failing with "database is locked" when a
    read lock cannot be upgraded. Without the option no ``BEGIN`` is sent: work outside ``transaction()``
    runs statement by statement, so a read never pins an old snapshot and always sees the latest
    committed data, as PostgreSQL's read-committed reads do. Writes belong in ``transaction()``.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for name, value in pragmas.items():
                cursor.execute(f"PRAGMA {name}={value}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get(BEGIN_MODE_OPTION)
        if mode is None:
            return
        if mode not in ("DEFERRED", "IMMEDIATE", "EXCLUSIVE"):
            raise ValueError(f"invalid SQLite begin mode {mode!r}")
        connection.exec_driver_sql(f"BEGIN {mode}")


LOW_SPACE_BYTES = 1 << 20
"""Free bytes below which an SQLite I/O error on a file of the storage counts as a full disk (SQLite reports
a failed allocation of its shared-memory index as ``disk I/O error``, not as ``database or disk is full``)."""

_SQLITE_IOERR, _SQLITE_FULL = 10, 13
_PG_DISK_FULL = "53100"
_FULL_DISK_TEXTS = ("could not extend file", "no space left on device", "database or disk is full", "disk quota")


def free_bytes(folder: Path) -> int | None:
    """Return the bytes free for us on the filesystem holding ``folder`` (None if that cannot be asked)."""
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def is_disk_full(error: BaseException | None, folder: Path | None = None) -> bool:
    """Return whether a driver or OS error means the disk (or quota) ran out of space.

    Recognised: ``OSError`` ENOSPC/EDQUOT; SQLite's ``SQLITE_FULL``, and ``SQLITE_IOERR`` when ``folder`` (the
    database's folder) has less than :data:`LOW_SPACE_BYTES` free; PostgreSQL's SQLSTATE 53100 (``disk_full``)
    and the server messages ``could not extend file`` / ``No space left on device``.
    """
    if error is None:
        return False
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    if getattr(error, "pgcode", None) == _PG_DISK_FULL:
        return True
    code = getattr(error, "sqlite_errorcode", None)
    if isinstance(code, int):
        if code & 0xFF == _SQLITE_FULL:
            return True
        if code & 0xFF == _SQLITE_IOERR and folder is not None:
            free = free_bytes(folder)
            return free is not None and free < LOW_SPACE_BYTES
    text = str(error).lower()
    return any(fragment in text for fragment in _FULL_DISK_TEXTS)


def storage_full(
    profile_name: str, where: str, path: Path | str | None = None, needed: int | None = None
) -> StorageFull:
    """Return the one-line :class:`~provstore.exceptions.StorageFull` of profile ``profile_name`` for ``where``."""
    need = f" ({needed:,} bytes more needed)" if needed else ""
    return StorageFull(
        f"profile {profile_name!r}: the disk holding {where} is full{need}: nothing of this write was kept; "
        "free some space and run it again",
        path=str(path) if path is not None else None,
        needed=needed,
    )


def is_database_locked(error: BaseException) -> bool:
    """Return whether a SQLAlchemy error is SQLite's "database is locked": another connection kept its lock
    (a write, or a connection in exclusive locking mode) for longer than the busy timeout."""
    return isinstance(error, sa_exc.OperationalError) and "database is locked" in str(error.orig)


def database_locked(profile_name: str) -> LockedProfileError:
    """Return the one-line :class:`~provstore.exceptions.LockedProfileError` of a database found locked."""
    return LockedProfileError(
        f"the database of profile {profile_name!r} stayed locked by another process (a write, or a process holding "
        "it exclusively) for longer than the busy timeout; run it again once that process is done, or raise "
        "`busy_timeout` in the storage config"
    )


def translate_disk_full(engine: Engine, profile_name: str, where: str, folder: Path | None = None) -> None:
    """Make every statement, commit and connect of ``engine`` that fails for a full disk raise :class:`StorageFull`.

    ``where`` names the database in the message (a path, or a server and database name); ``folder`` is the
    local folder of an SQLite database (to tell a full disk from other I/O errors), None for a server.
    """

    @event.listens_for(engine, "handle_error")
    def _on_error(context: Any) -> None:
        if is_disk_full(context.original_exception, folder):
            raise storage_full(profile_name, where, folder) from context.sqlalchemy_exception
