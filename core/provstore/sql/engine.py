"""Engine settings shared by the SQL backends: JSON serialisation and the SQLite connection setup."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine, event

__all__ = ["BEGIN_MODE_OPTION", "JSON_ENGINE_KWARGS", "configure_sqlite_engine", "json_dumps"]

json_dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode
"""Serialise JSON columns: unicode kept as is (not ``\\u`` escapes), NaN/Infinity refused (not valid JSON).

One encoder is built once: ``json.dumps`` with options would build a new one for every value."""

JSON_ENGINE_KWARGS: dict[str, Any] = {"json_serializer": json_dumps, "json_deserializer": json.loads}
"""Keyword arguments of ``create_engine`` that every SQL backend passes."""

BEGIN_MODE_OPTION = "provstore_sqlite_begin"
"""Connection execution option naming the SQLite ``BEGIN`` mode; ``IMMEDIATE`` for transactions that write."""


def configure_sqlite_engine(engine: Engine, pragmas: Mapping[str, str | int]) -> None:
    """Make an SQLite engine emit its own ``BEGIN`` (so SAVEPOINTs work) and set ``pragmas`` on each connection.

    The ``pysqlite`` driver otherwise begins transactions lazily by itself, which breaks nested
    transactions. Transactions opened with the execution option :data:`BEGIN_MODE_OPTION` set to
    ``"IMMEDIATE"`` take the write lock at once, so concurrent writers wait for each other (up to
    ``busy_timeout``) instead of failing with "database is locked" when upgrading a read lock.
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
        mode = connection.get_execution_options().get(BEGIN_MODE_OPTION, "DEFERRED")
        if mode not in ("DEFERRED", "IMMEDIATE", "EXCLUSIVE"):
            raise ValueError(f"invalid SQLite begin mode {mode!r}")
        connection.exec_driver_sql(f"BEGIN {mode}")
