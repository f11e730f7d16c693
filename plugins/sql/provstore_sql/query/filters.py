"""Turn a filter dictionary (``{"attributes.x": {">": 2}, "or": [...]}``) into a two-valued SQL condition."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from provstore.exceptions import ValidationError
from sqlalchemy import ColumnElement, FromClause, Table, and_, false, not_, or_, true

from provstore_sql.query.dialects import Dialect, is_number, like_pattern
from provstore_sql.query.fields import (
    FieldRef,
    check_column_value,
    check_json_value,
    check_key,
    check_text,
    parse_field,
)

__all__ = ["OPERATORS", "FilterCompiler"]

OPERATORS = (
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "in",
    "!in",
    "like",
    "ilike",
    "has_key",
    "contains",
    "is_null",
    "of_type",
)
"""Every filter operator; combine filters with the keys ``and``, ``or`` (lists of filters) and ``not`` (a filter)."""

_ORDERING = ("<", "<=", ">", ">=")
_JSON_ONLY = ("has_key", "contains")


class FilterCompiler:
    """Compile the filters of one entity (or link) against its table alias, validating every name and value."""

    def __init__(self, dialect: Dialect, table: Table, entity: str, alias: FromClause) -> None:
        """Prepare to compile filters on ``alias`` (an alias of ``table``, the table of ``entity``)."""
        self.dialect = dialect
        self.table = table
        self.entity = entity
        self.alias = alias

    def compile(self, filters: object) -> ColumnElement[bool]:
        """Return the condition of ``filters`` (all entries must hold).

        :raises ValidationError: unknown field or operator, or a value of the wrong type (one line, naming valid ones).
        """
        if not isinstance(filters, dict):
            raise ValidationError(f"filters of {self.entity} must be a dict, got {type(filters).__name__}")
        return and_(true(), *(self._entry(key, value) for key, value in filters.items()))

    def _entry(self, key: object, value: Any) -> ColumnElement[bool]:
        if key in ("and", "or"):
            if not isinstance(value, list):
                raise ValidationError(f"{key!r} takes a list of filter dicts, got {type(value).__name__}")
            parts = [self.compile(item) for item in value]
            return and_(true(), *parts) if key == "and" else or_(false(), *parts)
        if key == "not":
            return not_(self.compile(value))
        field = parse_field(self.table, self.entity, key)
        if not isinstance(value, dict):
            return self._operator(field, str(key), "==", value)
        if not value:
            raise ValidationError(f"no operator given for {key!r}; valid operators: {', '.join(OPERATORS)}")
        return and_(*(self._operator(field, str(key), op, operand) for op, operand in value.items()))

    def _operator(self, field: FieldRef, name: str, op: object, operand: Any) -> ColumnElement[bool]:
        if op not in OPERATORS:
            raise ValidationError(f"unknown operator {op!r} on {name!r}; valid operators: {', '.join(OPERATORS)}")
        what = f"{name!r} {op}"
        if op == "!=":
            return not_(self._operator(field, name, "==", operand))
        if op == "!in":
            return not_(self._operator(field, name, "in", operand))
        if op == "is_null":
            if not isinstance(operand, bool):
                raise ValidationError(f"{what} takes true or false, got {operand!r}")
            condition = self._is_null(field)
            return condition if operand else not_(condition)
        if op == "in":
            if not isinstance(operand, (list, tuple, set, frozenset)):
                raise ValidationError(f"{what} takes a list, got {type(operand).__name__}")
            values = list(operand)
            if not values:
                return false()
            return self._in(field, values, what)
        if op in _ORDERING:
            return self._ordering(field, str(op), operand, what)
        if op in ("like", "ilike"):
            return self._like(field, operand, what, insensitive=op == "ilike")
        if op in _JSON_ONLY and not field.is_json:
            raise ValidationError(f"{what}: {op} needs a JSON field, {field.column.name!r} is not one")
        handlers: dict[str, Callable[[FieldRef, Any, str], ColumnElement[bool]]] = {
            "==": self._eq,
            "has_key": self._has_key,
            "contains": self._contains,
            "of_type": self._of_type,
        }
        return handlers[str(op)](field, operand, what)

    # -------------------------------------------------------------------------------------------- operators
    def _column(self, field: FieldRef) -> ColumnElement[Any]:
        return self.alias.c[field.column.name]

    def _guard(self, field: FieldRef, condition: ColumnElement[bool]) -> ColumnElement[bool]:
        """Return ``condition`` made false (not NULL) where a nullable column is NULL."""
        if field.column.nullable:
            return and_(self._column(field).isnot(None), condition)
        return condition

    def _path(self, field: FieldRef) -> tuple[str | int, ...]:
        return field.path or ()

    def _eq(self, field: FieldRef, operand: Any, what: str) -> ColumnElement[bool]:
        if field.is_json:
            value = check_json_value(operand, what)
            return self.dialect.json_eq(self._column(field), self._path(field), value)
        if operand is None:
            return self._column(field).is_(None)
        value = check_column_value(field, operand, what)
        return self._guard(field, self._column(field) == value)

    def _in(self, field: FieldRef, values: list[Any], what: str) -> ColumnElement[bool]:
        if field.is_json:
            for value in values:
                if isinstance(value, (dict, list, tuple)):
                    raise ValidationError(f"{what}: list members must be JSON scalars, got {value!r}")
            return or_(*(self._eq(field, value, what) for value in values))
        checked = [check_column_value(field, value, what) for value in values]
        return self._guard(field, self.dialect.in_values(self._column(field), checked))

    def _ordering(self, field: FieldRef, op: str, operand: Any, what: str) -> ColumnElement[bool]:
        if field.is_json:
            if not (is_number(operand) or isinstance(operand, str)):
                raise ValidationError(f"{what} compares with a number or a string, got {operand!r}")
            value = check_json_value(operand, what)
            return self.dialect.json_compare(self._column(field), self._path(field), op, value)
        value = check_column_value(field, operand, what)
        column = self._column(field)
        if isinstance(value, bool):
            raise ValidationError(f"{what}: booleans have no order")
        if isinstance(value, str):
            condition = self.dialect.text_compare(column, op, value)
        else:
            condition = {"<": column < value, "<=": column <= value, ">": column > value, ">=": column >= value}[op]
        return self._guard(field, condition)

    def _like(self, field: FieldRef, operand: Any, what: str, insensitive: bool) -> ColumnElement[bool]:
        pattern = like_pattern(operand)
        if field.is_json:
            return self.dialect.json_like(self._column(field), self._path(field), pattern, insensitive)
        self._require_text(field, what)
        return self._guard(field, self.dialect.like(self._column(field), pattern, insensitive))

    def _has_key(self, field: FieldRef, operand: Any, what: str) -> ColumnElement[bool]:
        key = check_key(operand, f"key in {what}")
        return self.dialect.json_has_key(self._column(field), self._path(field), key)

    def _contains(self, field: FieldRef, operand: Any, what: str) -> ColumnElement[bool]:
        if not isinstance(operand, (dict, list, tuple)):
            raise ValidationError(f"{what} takes a dict or a list (use == for a single value), got {operand!r}")
        value = check_json_value(operand, what)
        return self.dialect.json_contains(self._column(field), self._path(field), value)

    def _of_type(self, field: FieldRef, operand: Any, what: str) -> ColumnElement[bool]:
        self._require_text(field, what)
        if not isinstance(operand, str) or not operand.strip("."):
            raise ValidationError(f"{what} takes a dotted type prefix such as 'data.core', got {operand!r}")
        prefix = check_text(operand, what).rstrip(".")
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        column = self._column(field)
        condition = (column == prefix) | self.dialect.like(column, escaped + ".%", insensitive=False)
        return self._guard(field, condition)

    def _is_null(self, field: FieldRef) -> ColumnElement[bool]:
        if field.is_json:
            return self.dialect.json_is_null(self._column(field), self._path(field))
        return self._column(field).is_(None)

    def _require_text(self, field: FieldRef, what: str) -> None:
        if field.is_json or field.python_type is not str:
            raise ValidationError(f"{what}: needs a text field, {field.column.name!r} is not one")
