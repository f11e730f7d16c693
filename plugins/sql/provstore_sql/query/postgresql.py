"""The PostgreSQL query dialect: jsonb operators and SQL/JSON paths (see :mod:`provstore_sql.query.dialects`).

A module of its own so that only PostgreSQL storages import SQLAlchemy's PostgreSQL dialect package, which
:func:`provstore_sql.query.dialects.dialect_for` loads on first use.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from provstore.query.fields import JsonPath, is_number
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    ColumnElement,
    Integer,
    Numeric,
    String,
    and_,
    any_,
    case,
    cast,
    false,
    func,
    literal,
    literal_column,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB, JSONPATH
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.visitors import InternalTraversal

from provstore_sql.engine import json_dumps
from provstore_sql.query.dialects import _COMPARATORS, Dialect
from provstore_sql.tables import UuidType, canonical_uuid

__all__ = ["PostgresDialect"]


def _jsonpath(path: JsonPath) -> str:
    """Return a strict SQL/JSON path for validated segments (keys are quoted; they hold no quote or backslash)."""
    return "strict $" + "".join(f'."{segment}"' if isinstance(segment, str) else f"[{segment}]" for segment in path)


def _wrap(path: JsonPath, value: Any) -> Any:
    """Return the document that has ``value`` at ``path`` (list indexes become one-element lists)."""
    for segment in reversed(path):
        value = {segment: value} if isinstance(segment, str) else [value]
    return value


def _array_element(value: Any) -> str:
    """Return ``value`` (int, bool, str or datetime) as an element of a PostgreSQL array literal."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = value.isoformat() if isinstance(value, datetime.datetime) else value
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _jsonb(value: Any) -> ColumnElement[Any]:
    """Return ``value`` as a jsonb literal, written as stored values are (so ``numeric`` compares them exactly)."""
    return cast(literal(json_dumps(value), String), JSONB)


class _PathMatch(ColumnElement[bool]):
    """``(doc @@ CAST(:predicate AS JSONPATH)) IS TRUE``, built as one element: a query's build is per call.

    Made of SQLAlchemy's operators it takes four elements and most of the Python time of compiling a count; its
    cache key (the document column, the bound predicate) keeps SQLAlchemy's compiled cache working.
    """

    inherit_cache = True
    type = Boolean()
    _traverse_internals = [
        ("doc", InternalTraversal.dp_clauseelement),
        ("predicate", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, doc: ColumnElement[Any], predicate: ColumnElement[str]) -> None:
        self.doc = doc
        self.predicate = predicate


@compiles(_PathMatch)
def _compile_path_match(element: _PathMatch, compiler: Any, **kw: Any) -> str:
    doc, predicate = compiler.process(element.doc, **kw), compiler.process(element.predicate, **kw)
    return f"(({doc} @@ CAST({predicate} AS JSONPATH)) IS true)"


_GIN_IN_VALUES = 100
"""Up to this many values, ``in`` on a JSON path is also written as ``doc @> ANY(...)`` for the GIN index.

Each row that term reads costs one containment test per value, so longer lists use only the hashed lookup.
"""


class PostgresDialect(Dialect):
    """PostgreSQL: jsonb operators and SQL/JSON paths; ``@>`` and ``?`` terms let the GIN index help."""

    name = "postgresql"

    def compare(self, column: ColumnElement[Any], op: str, value: Any) -> ColumnElement[bool]:
        if isinstance(column.type, UuidType):  # native uuid: compare its text, as SQLite does
            column = cast(column, String)
        return _COMPARATORS[op](column.collate("C") if isinstance(value, str) else column, value)

    def like(self, expression: ColumnElement[Any], pattern: str, insensitive: bool) -> ColumnElement[bool]:
        if isinstance(expression.type, UuidType):  # native uuid: LIKE needs its text
            expression = cast(expression, String)
        if insensitive:  # lower() under the C collation folds ASCII only, like SQLite's lower()
            return func.lower(expression.collate("C")).like(func.lower(literal(pattern, String).collate("C")))
        return expression.like(literal(pattern, String))

    def in_values(self, column: ColumnElement[Any], values: list[Any]) -> ColumnElement[bool]:
        # one array literal '{...}' cast to the column's array type: parsed as one string, 2x to 4x faster than
        # ARRAY[...] of bound values, and a constant, so that = ANY() is hashed for long lists
        if isinstance(column.type, UuidType):  # a value that is no uuid matches nothing (and must not be parsed)
            values = [value for value in map(canonical_uuid, values) if value is not None]
            if not values:
                return false()
        array = "{" + ",".join(_array_element(value) for value in values) + "}"
        element = BigInteger() if isinstance(column.type, Integer) else column.type  # any 64-bit value is valid
        return column == any_(cast(literal(array, String), ARRAY(element)))

    def text_order_key(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        if isinstance(column.type, UuidType):  # uuid order is the order of its lowercase text already
            return column
        return column.collate("C")

    def json_value(self, doc: ColumnElement[Any], path: JsonPath) -> ColumnElement[Any]:
        if not path:
            return doc
        return func.jsonb_path_query_first(
            doc, cast(literal(_jsonpath(path), String), JSONPATH), _jsonb({}), true(), type_=JSONB
        )

    def json_projection(self, doc: ColumnElement[Any], path: JsonPath) -> ColumnElement[Any]:
        return func.nullif(self.json_value(doc, path), _jsonb(None), type_=JSONB)

    def _text(self, value: ColumnElement[Any]) -> ColumnElement[Any]:
        """Return the text of a jsonb string."""
        return value.op("#>>", return_type=String)(literal_column("'{}'", ARRAY(String)))

    def _prefilter(self, doc: ColumnElement[Any], path: JsonPath, value: Any) -> ColumnElement[bool]:
        """Return ``doc @> wrap(path, value)``: necessary for equality or containment at ``path``; GIN-indexable."""
        return and_(doc.isnot(None), doc.op("@>", return_type=Boolean)(_jsonb(_wrap(path, value))))

    def json_eq(self, doc: ColumnElement[Any], path: JsonPath, value: Any) -> ColumnElement[bool]:
        if not path:
            return and_(doc.isnot(None), doc == _jsonb(value))
        prefilter = self._prefilter(doc, path, value)
        if all(isinstance(segment, str) for segment in path) and not isinstance(value, (dict, list)):
            return prefilter  # containment of a scalar under object keys is equality
        return and_(prefilter, func.coalesce(self.json_value(doc, path) == _jsonb(value), false()))

    def json_in(self, doc: ColumnElement[Any], path: JsonPath, values: list[Any]) -> ColumnElement[bool]:
        # jsonb equality is JSON equality (1 = 1.0, 1 <> '1', true <> 1); IN on a subquery is a hashed subplan
        listed = select(func.jsonb_array_elements(_jsonb(values)))
        condition = func.coalesce(self.json_value(doc, path).in_(listed), false())
        if not path or len(values) > _GIN_IN_VALUES:
            return condition
        # a short list also gets a ``doc @> ANY(...)`` term the GIN index serves; under object keys only, it is exact
        wrapped = cast(literal([json_dumps(_wrap(path, value)) for value in values], ARRAY(String)), ARRAY(JSONB))
        prefilter = and_(doc.isnot(None), doc.op("@>", return_type=Boolean)(any_(wrapped)))
        if all(isinstance(segment, str) for segment in path):
            return prefilter
        return and_(prefilter, condition)

    def json_compare(self, doc: ColumnElement[Any], path: JsonPath, op: str, value: Any) -> ColumnElement[bool]:
        # one SQL/JSON predicate, ``doc @@ 'strict $."x" > 25000'``: a JSON comparison is already type-aware (a
        # number with a string, list, bool or null is *unknown*, and so is a missing path), strings compare by
        # code point, numbers as ``numeric``; IS TRUE makes unknown (SQL NULL) false. Half the time of a CASE on
        # jsonb_typeof that extracts the value twice, and ``@@`` has a selectivity estimator that reads the
        # column's statistics, where a CASE gets a fixed guess
        operand = json_dumps(value) if is_number(value) else json.dumps(value, ensure_ascii=False)
        return _PathMatch(doc, literal(f"{_jsonpath(path)} {op} {operand}", String))

    def json_like(
        self, doc: ColumnElement[Any], path: JsonPath, pattern: str, insensitive: bool
    ) -> ColumnElement[bool]:
        found = self.json_value(doc, path)
        test = self.like(self._text(found), pattern, insensitive)
        return case((func.jsonb_typeof(found) == "string", test), else_=false())

    def json_has_key(self, doc: ColumnElement[Any], path: JsonPath, key: str) -> ColumnElement[bool]:
        found = self.json_value(doc, (*path, key)).isnot(None)
        top = path[0] if path else key
        if not isinstance(top, str):
            return found
        # the document must have the path's first key: ``doc ? top`` is necessary, and GIN-indexable
        return and_(doc.op("?", return_type=Boolean)(top), found)

    def json_contains(self, doc: ColumnElement[Any], path: JsonPath, value: dict | list) -> ColumnElement[bool]:
        prefilter = self._prefilter(doc, path, value)
        if all(isinstance(segment, str) for segment in path):
            return prefilter
        found = self.json_value(doc, path)
        return and_(prefilter, func.coalesce(found.op("@>", return_type=Boolean)(_jsonb(value)), false()))

    def json_is_null(self, doc: ColumnElement[Any], path: JsonPath) -> ColumnElement[bool]:
        return func.coalesce(func.jsonb_typeof(self.json_value(doc, path)), "null") == "null"

    def json_order_keys(self, doc: ColumnElement[Any], path: JsonPath) -> list[ColumnElement[Any]]:
        found = self.json_value(doc, path)
        kind = func.jsonb_typeof(found)
        return [
            case((kind == "number", 1), (kind == "string", 2), (kind == "boolean", 3), else_=4),
            case((kind == "number", cast(found, Numeric))),
            case((kind == "string", self._text(found).collate("C"))),
            case((kind == "boolean", cast(found, Boolean))),
        ]
