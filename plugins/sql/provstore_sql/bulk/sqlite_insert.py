"""The SQLite fast path of ``bulk_insert``: hand-built multi-row ``INSERT ... VALUES (...), (...) RETURNING id``.

SQLAlchemy falls back to one statement per row on SQLite when the returned ids must follow the input
order; this sends as many rows per statement as SQLite's bound-variable limit allows. SQLite gives an
``INTEGER PRIMARY KEY`` without ``AUTOINCREMENT`` the largest existing id plus one, row after row, so
the new ids sorted ascending are the ids of the rows in input order (``RETURNING`` itself promises no order).
"""

from __future__ import annotations

import datetime
import json
import sqlite3
from collections.abc import Callable
from itertools import chain
from operator import itemgetter
from typing import Any

from provstore.exceptions import ValidationError
from sqlalchemy import JSON, Column, Connection, Dialect, Table

from provstore_sql.tables import UtcDateTime

__all__ = ["sqlite_insert_returning_ids"]

_DEFAULT_VARIABLE_LIMIT = 999  # SQLite's compile-time default before 3.32
_UTC = datetime.timezone.utc


def _variable_limit(connection: Connection) -> int:
    driver = connection.connection.driver_connection
    getlimit = getattr(driver, "getlimit", None)  # Python >= 3.11
    if getlimit is None:
        return _DEFAULT_VARIABLE_LIMIT
    return getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)


def _sqlite_timestamp(value: datetime.datetime | None) -> str | None:
    """Format a timestamp exactly as SQLAlchemy's SQLite ``DATETIME`` does, after :class:`UtcDateTime` (UTC)."""
    if value is None:
        return None
    if not isinstance(value, datetime.datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}")
    if value.tzinfo is _UTC:  # the common case: one C call, the "+00:00" suffix cut off
        return value.isoformat(" ", "microseconds")[:-6]
    if value.tzinfo is not None:
        value = value.astimezone(_UTC).replace(tzinfo=None)
    return value.isoformat(" ", "microseconds")


def _bind_processor(column: Column[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """Return the function turning a Python value into the driver value, as SQLAlchemy would (only faster)."""
    if isinstance(column.type, UtcDateTime):
        return _sqlite_timestamp
    implementation = column.type.dialect_impl(dialect)
    if isinstance(implementation, JSON) and not implementation.none_as_null:
        return getattr(dialect, "_json_serializer", None) or json.dumps
    return implementation.bind_processor(dialect)


def sqlite_insert_returning_ids(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> list[int]:
    """Insert complete rows (every column but ``id``) and return their new ids in input order."""
    if not rows:
        return []
    dialect = connection.dialect
    columns = [column for column in table.columns if not column.primary_key]
    names = [column.name for column in columns]
    processors = [_bind_processor(column, dialect) for column in columns]
    pairs = list(zip(names, processors, strict=True))
    quote = dialect.identifier_preparer.quote
    head = f"INSERT INTO {quote(table.name)} ({', '.join(quote(name) for name in names)}) VALUES "
    placeholder = f"({', '.join('?' * len(names))})"
    per_statement = max(1, _variable_limit(connection) // len(names))
    ids: list[int] = []
    for start in range(0, len(rows), per_statement):
        part = rows[start : start + per_statement]
        try:  # column by column: map() over itemgetter stays in C for columns without conversion
            columns_values = [
                list(map(itemgetter(name), part))
                if processor is None
                else list(map(processor, map(itemgetter(name), part)))
                for name, processor in pairs
            ]
        except (ValueError, TypeError, AttributeError) as exc:  # e.g. NaN in JSON, a str given for a timestamp
            raise ValidationError(f"{table.name}: invalid value: {exc}") from exc
        params = tuple(chain.from_iterable(zip(*columns_values, strict=True)))
        sql = head + ", ".join([placeholder] * len(part)) + " RETURNING id"
        ids.extend(sorted(connection.exec_driver_sql(sql, params).scalars()))
    return ids
