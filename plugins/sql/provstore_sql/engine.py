"""Engine settings shared by the SQL backends: JSON serialisation and the SQLite connection setup."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine, event

__all__ = ["BEGIN_MODE_OPTION", "JSON_ENGINE_KWARGS", "configure_sqlite_engine", "json_dumps"]

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
