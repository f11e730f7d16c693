"""The bulk insert fast path of ``core.psql_dos``: ``COPY ... FROM STDIN`` with primary keys reserved up front.

A chunk of rows is written as PostgreSQL's text COPY format into an in-memory buffer and streamed
in one ``COPY`` command. The primary keys are taken from the table's sequence beforehand (``nextval``
over ``generate_series``) and written explicitly, so they come back in input order without a
``RETURNING`` round trip. Everything runs on the caller's connection, inside its transaction.
"""

from __future__ import annotations

import datetime
import io
from collections.abc import Callable
from typing import Any

import psycopg2
from provstore.exceptions import IntegrityError, ValidationError
from provstore.sql.engine import json_dumps
from sqlalchemy import JSON, Boolean, Connection, DateTime, Integer, String, Table, Text, TypeDecorator

__all__ = ["copy_rows"]

NULL = "\\N"
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_SEQUENCES: dict[str, str] = {}


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value.translate(_ESCAPES)
    raise TypeError(f"expected a string, got {type(value).__name__}")


def _integer(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"expected an integer, got {type(value).__name__}")


def _boolean(value: Any) -> str:
    if isinstance(value, bool):
        return "t" if value else "f"
    raise TypeError(f"expected a boolean, got {type(value).__name__}")


def _timestamp(value: Any) -> str:
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    raise TypeError(f"expected a datetime, got {type(value).__name__}")


def _json(value: Any) -> str:
    return json_dumps(value).translate(_ESCAPES)  # None becomes JSON null, as on the INSERT path


def _encoder(column_type: Any, dialect: Any) -> Callable[[Any], str]:
    """Return the function writing one value of ``column_type`` in COPY text format (NULL handled by the caller).

    A ``TypeDecorator`` first converts the value as it would for an INSERT (e.g. timestamps to UTC).
    """
    if isinstance(column_type, TypeDecorator):
        inner, convert = _encoder(column_type.impl, dialect), column_type.process_bind_param
        return lambda value: inner(convert(value, dialect))
    if isinstance(column_type, JSON) or isinstance(getattr(column_type, "impl", None), JSON):
        return _json
    for sql_type, encoder in ((Boolean, _boolean), (Integer, _integer), (DateTime, _timestamp), (String, _text)):
        if isinstance(column_type, sql_type):
            return encoder
    if isinstance(column_type, Text):
        return _text
    raise TypeError(f"no COPY encoder for column type {column_type!r}")


def _is_json(column_type: Any) -> bool:
    """Return whether values of ``column_type`` are JSON documents (where None means JSON ``null``)."""
    return isinstance(column_type, JSON)


def _sequence(cursor: Any, table: Table) -> str:
    """Return the (cached) name of the sequence that feeds ``table.id``."""
    name = _SEQUENCES.get(table.name)
    if name is None:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", (table.name,))
        name = _SEQUENCES[table.name] = cursor.fetchone()[0]
    return name


def copy_rows(connection: Connection, table: Table, rows: list[dict[str, Any]], first_index: int = 0) -> list[int]:
    """Insert complete rows (every column but ``id``) into ``table`` with one COPY; return their ids in order.

    ``first_index`` is the position of ``rows[0]`` in the caller's whole input, for error messages.

    :raises ValidationError: a value has the wrong type or cannot be stored (NaN in JSON, NUL characters).
    :raises IntegrityError: a row violates a constraint (duplicate uuid, ...).
    """
    if not rows:
        return []
    columns = [column for column in table.columns if not column.primary_key]
    names = [column.name for column in columns]
    encoders = [(column.name, _encoder(column.type, connection.dialect), _is_json(column.type)) for column in columns]
    raw = connection.connection.dbapi_connection
    with raw.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(%s::regclass) FROM generate_series(1, %s)", (_sequence(cursor, table), len(rows))
        )
        ids = sorted(row[0] for row in cursor.fetchall())
        buffer = io.StringIO()
        write = buffer.write
        for index, (pk, row) in enumerate(zip(ids, rows, strict=True)):
            fields = [str(pk)]
            for name, encode, is_json in encoders:
                value = row[name]
                try:
                    fields.append(NULL if value is None and not is_json else encode(value))
                except (TypeError, ValueError, AttributeError) as exc:
                    raise ValidationError(f"{table.name} row {first_index + index}, column {name}: {exc}") from None
            write("\t".join(fields))
            write("\n")
        buffer.seek(0)
        column_list = ", ".join(f'"{name}"' for name in ["id", *names])
        try:
            cursor.copy_expert(f"COPY {table.name} ({column_list}) FROM STDIN", buffer, size=1 << 20)
        except psycopg2.IntegrityError as exc:
            raise IntegrityError(f"{table.name}: {_summary(exc)}") from None
        except psycopg2.DataError as exc:
            raise ValidationError(f"{table.name}: invalid value: {_summary(exc)}") from None
    return ids


def _summary(exc: psycopg2.Error) -> str:
    """Return the server's message with the row number COPY reports (``COPY t, line 3``), in one line."""
    primary = (exc.diag.message_primary or str(exc)).strip()
    context = (exc.diag.context or "").strip().splitlines()
    detail = (exc.diag.message_detail or "").strip()
    parts = [primary, detail, context[0] if context else ""]
    return "; ".join(part for part in parts if part)
