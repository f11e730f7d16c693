"""SQL for JSON values, text and lists, written per dialect so that SQLite and PostgreSQL give identical answers.

Semantics shared by both dialects (``docs/querying.md`` is the user-facing version):

- a path resolves only through objects (key segments) and lists (index segments); anything else is *missing*;
- ``==`` is JSON equality: types must match (``1 == 1.0`` but ``1 != "1"`` and ``true != 1``), lists and objects
  compare deeply; ``None`` matches a JSON ``null`` that is present;
- ordering comparisons and ``like`` only match values of the operand's JSON type (number or string); strings
  compare by code point;
- ``contains`` is PostgreSQL's ``@>`` (objects: recursive subset of keys; lists: every element of the operand is
  matched by some element), ``has_key`` tests that an object has a key;
- every predicate is true or false, never SQL NULL, so ``not`` is an exact complement.

On PostgreSQL, ``==``, ``in`` and ``contains`` include a ``column @> {...}`` term and ``has_key`` a
``column ? key`` term (the path's first key) that the GIN index on ``attributes``/``extras`` can serve;
ordering comparisons are one SQL/JSON predicate (``column @@ 'strict $."x" > 5'``), type-aware by itself.
On SQLite, ``contains`` and deep equality are expanded in Python into per-path ``json_type``/``json_extract``
tests and ``json_each`` searches, because the operand is known when the query is built.
"""

from __future__ import annotations

import functools
import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from provstore.exceptions import ValidationError
from provstore.query.fields import JsonPath, is_number
from sqlalchemy import (
    Boolean,
    ColumnElement,
    Integer,
    String,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement as _ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from provstore_sql.engine import json_dumps

__all__ = ["Dialect", "SqliteDialect", "all_of", "any_of", "dialect_for"]

_COMPARATORS = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def all_of(parts: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    """Return the conjunction of ``parts`` (true when empty) as a balanced tree of parenthesised terms.

    A flat ``a AND b AND c ...`` parses as a tree as deep as the list is long, and SQLite refuses trees deeper
    than 1,000; balanced, 1,000 terms are 10 levels deep.
    """
    return _balanced(and_, parts, true())


def any_of(parts: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    """Return the disjunction of ``parts`` (false when empty) as a balanced tree (see :func:`all_of`)."""
    return _balanced(or_, parts, false())


def _balanced(
    combine: Callable[..., ColumnElement[bool]], parts: list[ColumnElement[bool]], empty: ColumnElement[bool]
) -> ColumnElement[bool]:
    if not parts:
        return empty
    if len(parts) <= 2:
        return combine(*parts)
    middle = len(parts) // 2
    left, right = _balanced(combine, parts[:middle], empty), _balanced(combine, parts[middle:], empty)
    return combine(_Parenthesised(left), _Parenthesised(right))


class _Parenthesised(_ColumnElement[bool]):
    """A boolean term always written in parentheses: SQLAlchemy 2.1 flattens ``(a OR b) OR c`` even in a Grouping."""

    inherit_cache = True
    _traverse_internals = [("element", InternalTraversal.dp_clauseelement)]

    def __init__(self, element: ColumnElement[bool]) -> None:
        self.element = element
        self.type = element.type


@compiles(_Parenthesised)
def _compile_parenthesised(element: _Parenthesised, compiler: Any, **kw: Any) -> str:
    return "(" + compiler.process(element.element, **kw) + ")"


class Dialect(ABC):
    """The dialect-specific parts of a query: JSON predicates, JSON projections, ordering, text and list tests."""

    name: str

    # ---------------------------------------------------------------------------------------- text and lists
    def compare(self, column: ColumnElement[Any], op: str, value: Any) -> ColumnElement[bool]:
        """Return ``column <op> value`` for a column that is not JSON (strings compare by code point)."""
        return _COMPARATORS[op](column, value)

    @abstractmethod
    def like(self, expression: ColumnElement[Any], pattern: str, insensitive: bool) -> ColumnElement[bool]:
        """Return a case-sensitive (or ASCII-case-insensitive) LIKE test of a text expression."""

    @abstractmethod
    def in_values(self, column: ColumnElement[Any], values: list[Any]) -> ColumnElement[bool]:
        """Return ``column IN values`` (a column that is not JSON) with the list as one bound parameter.

        The database reads the list once into a hashed or indexed set, so that huge lists stay linear.
        """

    def text_order_key(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        """Return the expression that orders a text column by code point."""
        return column

    # ------------------------------------------------------------------------------------------------ JSON
    @abstractmethod
    def json_value(self, doc: ColumnElement[Any], path: JsonPath) -> ColumnElement[Any]:
        """Return the JSON value at ``path`` of ``doc`` (SQL NULL when missing)."""

    @abstractmethod
    def json_projection(self, doc: ColumnElement[Any], path: JsonPath) -> ColumnElement[Any]:
        """Return the JSON value at a non-empty ``path`` for projections: SQL NULL when missing or JSON null."""

    def decode(self, value: Any) -> Any:
        """Return the Python value of a fetched :meth:`json_projection` result."""
        return value

    @abstractmethod
    def json_eq(self, doc: ColumnElement[Any], path: JsonPath, value: Any) -> ColumnElement[bool]:
        """Return whether the value at ``path`` equals the JSON ``value`` (type-exact, deep)."""

    @abstractmethod
    def json_in(self, doc: ColumnElement[Any], path: JsonPath, values: list[Any]) -> ColumnElement[bool]:
        """Return whether the value at ``path`` equals one of the JSON scalars ``values`` (as :meth:`json_eq`).

        The list is one bound parameter read once into a hashed or indexed set: linear in its length.
        """

    @abstractmethod
    def json_compare(self, doc: ColumnElement[Any], path: JsonPath, op: str, value: Any) -> ColumnElement[bool]:
        """Return ``value_at_path <op> value`` for a number or a string operand; other JSON types never match."""

    @abstractmethod
    def json_like(
        self, doc: ColumnElement[Any], path: JsonPath, pattern: str, insensitive: bool
    ) -> ColumnElement[bool]:
        """Return whether the value at ``path`` is a string matching ``pattern``."""

    @abstractmethod
    def json_has_key(self, doc: ColumnElement[Any], path: JsonPath, key: str) -> ColumnElement[bool]:
        """Return whether the value at ``path`` is an object with ``key``."""

    @abstractmethod
    def json_contains(self, doc: ColumnElement[Any], path: JsonPath, value: dict | list) -> ColumnElement[bool]:
        """Return whether the value at ``path`` contains ``value`` (PostgreSQL ``@>`` semantics)."""

    @abstractmethod
    def json_is_null(self, doc: ColumnElement[Any], path: JsonPath) -> ColumnElement[bool]:
        """Return whether the value at ``path`` is missing or JSON null."""

    @abstractmethod
    def json_order_keys(self, doc: ColumnElement[Any], path: JsonPath) -> list[ColumnElement[Any]]:
        """Return sort keys ordering JSON values: numbers, then strings, then false/true, then everything else."""


# ---------------------------------------------------------------------------------------------------- SQLite
def _sqlite_path(path: JsonPath) -> str:
    """Return an SQLite JSON path for validated segments (keys are quoted; they hold no quote)."""
    return "$" + "".join(f'."{segment}"' if isinstance(segment, str) else f"[{segment}]" for segment in path)


def _glob_pattern(pattern: str) -> str:
    """Translate a LIKE pattern into the equivalent (case-sensitive) GLOB pattern."""
    out: list[str] = []
    chars = iter(pattern)
    for char in chars:
        if char == "\\":
            char = next(chars)
        elif char == "%":
            out.append("*")
            continue
        elif char == "_":
            out.append("?")
            continue
        out.append(f"[{char}]" if char in "*?[" else char)
    return "".join(out)


_NUMBER_TYPES = ("integer", "real")


def _json_key(kind: ColumnElement[str], value: ColumnElement[Any]) -> ColumnElement[Any]:
    """Return one SQL value per JSON scalar, equal exactly when the scalars are JSON-equal (see `_python_json_key`).

    ``kind`` and ``value`` are a ``json_type`` and its ``json_extract``. Numbers stay numbers (SQLite compares
    integers and reals by exact value); strings become ``'s:' || text`` and booleans ``'b:1'``/``'b:0'``, texts
    that no number equals. Anything else (null, missing, objects, lists) gives ``'-'``, which no key equals.
    """
    text_key = literal("s:", String).concat(value)
    branches = {"integer": value, "real": value, "text": text_key, "true": literal("b:1"), "false": literal("b:0")}
    return case(branches, value=kind, else_=literal("-", String))


def _python_json_key(value: str | int | float | bool) -> str | int | float:
    """Return the key :func:`_json_key` gives the JSON scalar ``value`` (not None)."""
    if isinstance(value, bool):
        return "b:1" if value else "b:0"
    if isinstance(value, str):
        return "s:" + value
    return value


@functools.cache
def _sqlite_sqlalchemy_dialect() -> Any:
    """Return SQLAlchemy's SQLite dialect, whose bind processors give values as SQLite stores them."""
    from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite

    return SQLiteDialect_pysqlite()


class SqliteDialect(Dialect):
    """SQLite: ``json_type``/``json_extract`` per path (``json_type`` tells ``true`` from ``1``), ``json_each``."""

    name = "sqlite"

    def like(self, expression: ColumnElement[Any], pattern: str, insensitive: bool) -> ColumnElement[bool]:
        if insensitive:  # lower() folds ASCII only; LIKE with an explicit escape, whatever case_sensitive_like says
            return func.lower(expression).like(func.lower(literal(pattern, String)), escape="\\")
        return expression.op("GLOB", return_type=Boolean)(literal(_glob_pattern(pattern), String))

    def in_values(self, column: ColumnElement[Any], values: list[Any]) -> ColumnElement[bool]:
        # the values as the column stores them (timestamps are text), in one JSON list that json_each reads
        dialect = _sqlite_sqlalchemy_dialect()
        process = column.type.dialect_impl(dialect).bind_processor(dialect)
        stored = values if process is None else [process(value) for value in values]
        members = func.json_each(literal(json_dumps(stored), String)).table_valued("value")
        return column.in_(select(members.c.value))

    def json_in(self, doc: ColumnElement[Any], path: JsonPath, values: list[Any]) -> ColumnElement[bool]:
        # one key per JSON scalar (see _json_key), the list's keys made in Python and read by json_each; IN on a
        # subquery indexes them once. A row value (type, value) would say the same, but SQLite then searches
        # the list row by row under NOT.
        sql_path = self._path(path)
        found = _json_key(func.json_type(doc, sql_path), func.json_extract(doc, sql_path))
        keys = [_python_json_key(value) for value in values if value is not None]
        members = func.json_each(literal(json_dumps(keys), String)).table_valued("value")
        condition = found.in_(select(members.c.value))
        if len(keys) < len(values):  # a JSON null has no key (json_extract gives SQL NULL): test it on its own
            return or_(self._type(doc, sql_path) == "null", condition)
        return condition

    def json_value(self, doc: ColumnElement[Any], path: JsonPath) -> ColumnElement[Any]:
        if not path:
            return doc
        return doc.op("->", return_type=String)(literal(_sqlite_path(path), String))

    def json_projection(self, doc: ColumnElement[Any], path: JsonPath) -> ColumnElement[Any]:
        return func.nullif(self.json_value(doc, path), literal("null", String), type_=String)

    def decode(self, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    @staticmethod
    def _type(doc: ColumnElement[Any], path: ColumnElement[str]) -> ColumnElement[str]:
        """Return the JSON type name at ``path`` ('missing' when absent), never NULL."""
        return func.coalesce(func.json_type(doc, path), "missing")

    @staticmethod
    def _path(path: JsonPath) -> ColumnElement[str]:
        return literal(_sqlite_path(path), String)

    def _eq(self, doc: ColumnElement[Any], path: ColumnElement[str], value: Any) -> ColumnElement[bool]:
        """Return JSON equality at an SQL path expression; objects and lists are expanded recursively."""
        kind = self._type(doc, path)
        if value is None:
            return kind == "null"
        if isinstance(value, bool):
            return kind == ("true" if value else "false")
        # the value test comes first: SQLite stops at the first false term, so most rows parse the JSON once
        if is_number(value):
            return and_(func.json_extract(doc, path) == literal(value), kind.in_(_NUMBER_TYPES))
        if isinstance(value, str):
            return and_(func.json_extract(doc, path) == literal(value, String), kind == "text")
        if isinstance(value, dict):
            members = func.json_each(doc, path).table_valued("key")
            size = select(func.count()).select_from(members).correlate_except(members).scalar_subquery()
            parts = [self._eq(doc, path.concat(f'."{key}"'), item) for key, item in value.items()]
            return all_of([kind == "object", size == len(value), *parts])
        parts = [self._eq(doc, path.concat(f"[{index}]"), item) for index, item in enumerate(value)]
        return all_of([kind == "array", func.json_array_length(doc, path) == len(value), *parts])

    def _contains(self, doc: ColumnElement[Any], path: ColumnElement[str], value: Any) -> ColumnElement[bool]:
        """Return PostgreSQL ``@>`` semantics at an SQL path expression (scalars inside the operand: equality)."""
        if isinstance(value, dict):
            parts = [self._contains(doc, path.concat(f'."{key}"'), item) for key, item in value.items()]
            return all_of([self._type(doc, path) == "object", *parts])
        if isinstance(value, list):
            parts = []
            for item in value:
                element = func.json_each(doc, path).table_valued("fullkey").alias()
                search = select(1).select_from(element).where(self._contains(doc, element.c.fullkey, item))
                parts.append(exists(search.correlate_except(element)))
            return all_of([self._type(doc, path) == "array", *parts])
        return self._eq(doc, path, value)

    def json_eq(self, doc: ColumnElement[Any], path: JsonPath, value: Any) -> ColumnElement[bool]:
        return self._eq(doc, self._path(path), value)

    def json_compare(self, doc: ColumnElement[Any], path: JsonPath, op: str, value: Any) -> ColumnElement[bool]:
        sql_path = self._path(path)
        kind = self._type(doc, sql_path)
        test = _COMPARATORS[op](func.json_extract(doc, sql_path), literal(value))
        return and_(test, kind.in_(_NUMBER_TYPES) if is_number(value) else kind == "text")

    def json_like(
        self, doc: ColumnElement[Any], path: JsonPath, pattern: str, insensitive: bool
    ) -> ColumnElement[bool]:
        sql_path = self._path(path)
        test = self.like(func.json_extract(doc, sql_path), pattern, insensitive)
        return and_(self._type(doc, sql_path) == "text", test)

    def json_has_key(self, doc: ColumnElement[Any], path: JsonPath, key: str) -> ColumnElement[bool]:
        return func.json_type(doc, self._path((*path, key))).isnot(None)

    def json_contains(self, doc: ColumnElement[Any], path: JsonPath, value: dict | list) -> ColumnElement[bool]:
        return self._contains(doc, self._path(path), value)

    def json_is_null(self, doc: ColumnElement[Any], path: JsonPath) -> ColumnElement[bool]:
        return self._type(doc, self._path(path)).in_(("null", "missing"))

    def json_order_keys(self, doc: ColumnElement[Any], path: JsonPath) -> list[ColumnElement[Any]]:
        sql_path = self._path(path)
        kind = self._type(doc, sql_path)
        found = func.json_extract(doc, sql_path)
        return [
            case((kind.in_(_NUMBER_TYPES), 1), (kind == "text", 2), (kind.in_(("false", "true")), 3), else_=4),
            case((kind.in_(_NUMBER_TYPES), found)),
            case((kind == "text", found)),
            case((kind == "true", literal(1, Integer)), (kind == "false", literal(0, Integer))),
        ]


def dialect_for(name: str) -> Dialect:
    """Return the query dialect of an SQLAlchemy dialect name.

    The PostgreSQL one lives in :mod:`provstore_sql.query.postgresql`, imported here when first asked for: it
    needs SQLAlchemy's PostgreSQL dialect package (45 ms to import), which SQLite storages never load.

    :raises ValidationError: the database is neither SQLite nor PostgreSQL.
    """
    if name == "sqlite":
        return SqliteDialect()
    if name == "postgresql":
        from provstore_sql.query.postgresql import PostgresDialect

        return PostgresDialect()
    raise ValidationError(f"queries support the dialects sqlite, postgresql, not {name!r}")
