"""The bulk insert fast path of ``core.psql_dos``: ``COPY ... FROM STDIN`` with primary keys reserved up front.

A chunk of rows is checked and encoded in PostgreSQL's text COPY format *while* it is streamed in one
``COPY`` command: the file-like object handed to psycopg2 produces lines on demand, so the server parses
rows and updates the indexes on one core while Python checks and encodes the next rows on another. The
primary keys are taken from the table's sequence beforehand (``nextval`` over ``generate_series``) and
written explicitly, so they come back in input order without a ``RETURNING`` round trip. Everything runs
on the caller's connection, inside its transaction.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator, Mapping
from operator import itemgetter
from typing import Any

import psycopg2
from provstore.exceptions import IntegrityError, ValidationError
from provstore_sql.bulk.rows import RowPreparer
from provstore_sql.engine import json_dumps
from sqlalchemy import JSON, Boolean, Connection, DateTime, Integer, String, Table, Text, TypeDecorator

__all__ = ["copy_rows"]

NULL = "\\N"
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_SEQUENCE = (
    "SELECT s.seqrelid::regclass::text, s.seqincrement FROM pg_sequence s "
    "WHERE s.seqrelid = pg_get_serial_sequence(%s, 'id')::regclass"
)
_RESERVE_IDS = "SELECT nextval(%s::regclass) FROM generate_series(1, %s)"
"""Take n ids from the sequence of a table's ``id`` column (never handed out twice, even if we roll back).

The sequence name is a constant here (looked up by :data:`_SEQUENCE` first), so it is resolved once: looked
up inside this statement, it was resolved once per id, which took longer than the ``nextval`` calls."""
_RESERVE_RANGE = "SELECT setval(%(sequence)s::regclass, nextval(%(sequence)s::regclass) + %(count)s - 1)"
"""Take n consecutive ids at once and return the last; only while no other session can draw from the
sequence, i.e. while this transaction holds the table exclusively (nobody else can insert into it)."""
LINES_PER_PIECE = 1000
"""Rows encoded together (column by column) before the server gets them: streaming stays fine-grained."""
STREAM_READ_SIZE = 1 << 16
"""Bytes psycopg2 asks for per read: small enough for the server to start early, large enough to be cheap."""


# Encoders of one value in COPY text format (None is NULL; the common exact types first); a wrong Python
# type is a TypeError naming it.
def _text(value: Any) -> str:
    if isinstance(value, str):
        # printable text without backslashes (the common case) needs no escaping: two C-level checks
        return value if value.isprintable() and "\\" not in value else value.translate(_ESCAPES)
    if value is None:
        return NULL
    raise TypeError(f"expected a string, got {type(value).__name__}")


def _integer(value: Any) -> str:
    if value.__class__ is int or (isinstance(value, int) and not isinstance(value, bool)):
        return str(value)
    if value is None:
        return NULL
    raise TypeError(f"expected an integer, got {type(value).__name__}")


def _boolean(value: Any) -> str:
    if isinstance(value, bool):
        return "t" if value else "f"
    if value is None:
        return NULL
    raise TypeError(f"expected a boolean, got {type(value).__name__}")


def _timestamp(value: Any) -> str:
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if value is None:
        return NULL
    raise TypeError(f"expected a datetime, got {type(value).__name__}")


def _json(value: Any) -> str:
    # None becomes JSON null, as on the INSERT path; JSON text holds no raw control characters, only backslashes
    text = json_dumps(value)
    return text.replace("\\", "\\\\") if "\\" in text else text


def _encoder(column_type: Any, dialect: Any) -> Callable[[Any], str]:
    """Return the function writing one value of ``column_type`` in COPY text format (None: NULL, or JSON null).

    A ``TypeDecorator`` first converts the value as it would for an INSERT (e.g. timestamps to UTC).
    """
    if isinstance(column_type, TypeDecorator):
        inner, convert = _encoder(column_type.impl, dialect), column_type.process_bind_param
        return lambda value: inner(convert(value, dialect))
    if isinstance(column_type, JSON):
        return _json
    for sql_type, encoder in ((Boolean, _boolean), (Integer, _integer), (DateTime, _timestamp), (String, _text)):
        if isinstance(column_type, sql_type):
            return encoder
    if isinstance(column_type, Text):
        return _text
    raise TypeError(f"no COPY encoder for column type {column_type!r}")


def _column_encoder(column_type: Any, encode: Callable[[Any], str]) -> Callable[[list[Any]], list[str]]:
    """Return the function encoding a list of values of one column: ``encode`` per value, or a C-level fast path.

    Integer columns holding only ``int`` need only ``str``; text columns holding only printable strings
    without backslashes (checked on their concatenation, in one pass) need nothing at all.
    """
    if isinstance(column_type, TypeDecorator) or isinstance(column_type, (JSON, Boolean, DateTime)):
        return lambda values: list(map(encode, values))
    if isinstance(column_type, Integer):

        def integers(values: list[Any]) -> list[str]:
            if set(map(type, values)) == {int}:
                return list(map(str, values))
            return list(map(encode, values))

        return integers

    def texts(values: list[Any]) -> list[str]:
        if set(map(type, values)) == {str}:
            joined = "".join(values)
            if joined.isprintable() and "\\" not in joined:
                return values
        return list(map(encode, values))

    return texts


class _CopyStream:
    """A read-only file of COPY text lines produced on demand; remembers the error that stopped it."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self.error: Exception | None = None

    def read(self, size: int = -1) -> str:
        """Return at least ``size`` characters of whole lines (fewer at the end; all of them if ``size`` < 0)."""
        parts: list[str] = []
        total = 0
        try:
            for line in self._lines:
                parts.append(line)
                total += len(line)
                if 0 <= size <= total:
                    break
        except Exception as exc:  # psycopg2 would replace it by a generic "error in .read() call"
            self.error = exc
            raise
        return "".join(parts)


def _lines(
    table: Table,
    rows: list[Mapping[str, Any]],
    prepare: RowPreparer,
    ids: list[int],
    encoders: list[tuple],
    first_index: int,
) -> Iterator[str]:
    """Yield the COPY text lines of the rows, :data:`LINES_PER_PIECE` at a time, each row's reserved id first.

    Rows are checked by ``prepare`` here, while the server parses the lines sent before, not all before the
    ``COPY``: the checks then cost no wall time. Values are encoded column by column (see
    :func:`_column_encoder`; ``map`` over ``itemgetter``: the loops run in C) and joined into lines the same way.

    :raises IntegrityError: ``prepare`` refused a row (unknown or missing keys).
    :raises ValidationError: a value has the wrong type or cannot be encoded (NaN in JSON), naming row and column.
    """
    for start in range(0, len(rows), LINES_PER_PIECE):
        part = prepare.many(rows[start : start + LINES_PER_PIECE])
        try:
            columns = [map(str, ids[start : start + LINES_PER_PIECE])]
            columns += [encode_column(list(map(itemgetter(name), part))) for name, _, encode_column in encoders]
        except (TypeError, ValueError, AttributeError):
            _raise_row_error(table, part, encoders, first_index + start)
            raise
        yield "\n".join(map("\t".join, zip(*columns, strict=True))) + "\n"


def _raise_row_error(table: Table, rows: list[dict[str, Any]], encoders: list[tuple], first_index: int) -> None:
    """Encode ``rows`` value by value and raise a :class:`ValidationError` naming the first value that fails."""
    for index, row in enumerate(rows):
        for name, encode, _ in encoders:
            try:
                encode(row[name])
            except (TypeError, ValueError, AttributeError) as exc:
                raise ValidationError(f"{table.name} row {first_index + index}, column {name}: {exc}") from None


def copy_rows(
    connection: Connection,
    table: Table,
    rows: list[Mapping[str, Any]],
    prepare: RowPreparer,
    first_index: int = 0,
    table_locked: bool = False,
) -> list[int]:
    """Insert rows into ``table`` with one COPY; return their ids in order.

    ``prepare`` turns each row into a complete one (every column but ``id``), as it is streamed.
    ``first_index`` is the position of ``rows[0]`` in the caller's whole input, for error messages.
    ``table_locked`` says the transaction holds ``table`` in ACCESS EXCLUSIVE mode (bulk-load mode): the
    ids are then reserved as one range (``setval``) instead of one ``nextval`` each, 0.5 s less per million.

    :raises ValidationError: a value has the wrong type or cannot be stored (NaN in JSON, NUL characters).
    :raises IntegrityError: a row violates a constraint (duplicate uuid, ...).
    """
    if not rows:
        return []
    columns = [column for column in table.columns if not column.primary_key]
    names = [column.name for column in columns]
    encoders = []
    for column in columns:
        encode = _encoder(column.type, connection.dialect)
        encoders.append((column.name, encode, _column_encoder(column.type, encode)))
    raw = connection.connection.dbapi_connection
    with raw.cursor() as cursor:
        cursor.execute(_SEQUENCE, (table.name,))
        sequence, increment = cursor.fetchone()
        if table_locked and increment == 1:
            cursor.execute(_RESERVE_RANGE, {"sequence": sequence, "count": len(rows)})
            last = cursor.fetchone()[0]
            ids = list(range(last - len(rows) + 1, last + 1))
        else:
            cursor.execute(_RESERVE_IDS, (sequence, len(rows)))
            ids = sorted(row[0] for row in cursor.fetchall())
        stream = _CopyStream(_lines(table, rows, prepare, ids, encoders, first_index))
        column_list = ", ".join(f'"{name}"' for name in ["id", *names])
        try:
            cursor.copy_expert(f"COPY {table.name} ({column_list}) FROM STDIN", stream, size=STREAM_READ_SIZE)
        except psycopg2.Error as exc:
            if stream.error is not None:
                raise stream.error from None
            if isinstance(exc, psycopg2.IntegrityError):
                raise IntegrityError(f"{table.name}: {_summary(exc)}") from None
            if isinstance(exc, psycopg2.DataError):
                raise ValidationError(f"{table.name}: invalid value: {_summary(exc)}") from None
            raise
    return ids


def _summary(exc: psycopg2.Error) -> str:
    """Return the server's message with the row number COPY reports (``COPY t, line 3``), in one line."""
    primary = (exc.diag.message_primary or str(exc)).strip()
    context = (exc.diag.context or "").strip().splitlines()
    detail = (exc.diag.message_detail or "").strip()
    parts = [primary, detail, context[0] if context else ""]
    return "; ".join(part for part in parts if part)
