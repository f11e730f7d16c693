"""The filter grammar: a filter dict (``{"attributes.x": {">": 2}, "or": [...]}``) parsed into a validated tree.

Grammar (every name and operand is checked; a mistake raises one :class:`ValidationError` line)::

    filters   := {entry, ...}                      all entries must hold
    entry     := field: value                      shorthand for field: {"==": value}
               | field: {operator: operand, ...}   all operators must hold
               | "and": [filters, ...]  |  "or": [filters, ...]  |  "not": filters
    operator  := OPERATOR | "!" OPERATOR           "!op" is exactly "not op" ("!=" negates "==")

The tree (:class:`Condition`, :class:`And`, :class:`Or`, :class:`Not`) holds normalised operands, so that a
backend compiles it without validating anything again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from provstore.exceptions import ValidationError
from provstore.query.fields import (
    FieldRef,
    check_column_value,
    check_json_value,
    check_key,
    check_members,
    check_text,
    is_number,
    parse_field,
)
from provstore.query.schema import EntityKind, FieldKind

__all__ = [
    "MAX_DEPTH",
    "OPERATORS",
    "And",
    "Condition",
    "Filter",
    "Not",
    "Or",
    "like_pattern",
    "parse_filters",
]

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
"""The filter operators; every one of them is also negated by a leading ``!`` (``!like``), ``==`` by ``!=``."""

_BASE = tuple(op for op in OPERATORS if op not in ("!=", "!in"))
_ORDERING = ("<", "<=", ">", ">=")
_VALID = f"valid operators: {', '.join(OPERATORS)} (each also negated by a leading '!')"

MAX_DEPTH = 32
"""How deeply ``and``/``or``/``not`` may nest: far beyond what a query needs, within what every database parses."""


@dataclass(frozen=True)
class Condition:
    """One operator applied to one field: ``field <operator> operand``, or its exact negation.

    ``operator`` is one of the operators without ``!`` (``!=`` is ``==`` negated); ``operand`` is normalised:
    a tuple for ``in``, UTC datetimes, JSON values as lists and dicts, a prefix without trailing dots for
    ``of_type``, None for ``==`` on an unset column.
    """

    field: FieldRef
    operator: str
    operand: Any
    negated: bool = False


@dataclass(frozen=True)
class And:
    """All parts hold (no part: true)."""

    parts: tuple[Filter, ...]


@dataclass(frozen=True)
class Or:
    """At least one part holds (no part: false)."""

    parts: tuple[Filter, ...]


@dataclass(frozen=True)
class Not:
    """The part does not hold (every filter is true or false, never unknown, so this is an exact complement)."""

    part: Filter


Filter = Condition | And | Or | Not
"""A node of a parsed filter tree."""


def parse_filters(entity: EntityKind, filters: object, depth: int = 0) -> And:
    """Return the tree of ``filters`` on fields of ``entity``.

    :raises ValidationError: unknown field or operator, a value of the wrong type, too deep a nesting.
    """
    if not isinstance(filters, dict):
        raise ValidationError(f"filters of {entity.name} must be a dict, got {type(filters).__name__}")
    if depth > MAX_DEPTH:
        raise ValidationError(f"filters nest 'and', 'or' and 'not' more than {MAX_DEPTH} levels deep")
    return And(tuple(_entry(entity, key, value, depth) for key, value in filters.items()))


def _entry(entity: EntityKind, key: object, value: Any, depth: int) -> Filter:
    if key in ("and", "or"):
        if not isinstance(value, list):
            raise ValidationError(f"{key!r} takes a list of filter dicts, got {type(value).__name__}")
        parts = tuple(parse_filters(entity, item, depth + 1) for item in value)
        return And(parts) if key == "and" else Or(parts)
    if key == "not":
        return Not(parse_filters(entity, value, depth + 1))
    field = parse_field(entity, key)
    if not isinstance(value, dict):
        return _condition(field, "==", value)
    if not value:
        raise ValidationError(f"no operator given for {key!r}; {_VALID}")
    conditions = tuple(_condition(field, op, operand) for op, operand in value.items())
    return conditions[0] if len(conditions) == 1 else And(conditions)


def _condition(field: FieldRef, op: object, operand: Any) -> Condition:
    base, negated = _split(field, op)
    what = f"{str(field)!r} {op}"
    return Condition(field, base, _operand(field, base, operand, what), negated)


def _split(field: FieldRef, op: object) -> tuple[str, bool]:
    """Return the operator without its negation, and whether it was negated."""
    if op == "!=":
        return "==", True
    if isinstance(op, str) and op.startswith("!") and op[1:] in _BASE and op != "!==":
        return op[1:], True
    if op in _BASE:
        return str(op), False
    raise ValidationError(f"unknown operator {op!r} on {str(field)!r}; {_VALID}")


def _operand(field: FieldRef, op: str, operand: Any, what: str) -> Any:
    """Return the normalised operand of ``field <op> operand``.

    :raises ValidationError: the operator does not apply to the field, or the operand is invalid.
    """
    if op == "==":
        if field.is_json:
            return check_json_value(operand, what)
        return None if operand is None else check_column_value(field, operand, what)
    if op == "in":
        if not isinstance(operand, (list, tuple, set, frozenset)):
            raise ValidationError(f"{what} takes a list, got {type(operand).__name__}")
        return check_members(field, operand, what)
    if op in _ORDERING:
        if field.is_json:
            if not (is_number(operand) or isinstance(operand, str)):
                raise ValidationError(f"{what} compares with a number or a string, got {operand!r}")
            return check_json_value(operand, what)
        value = check_column_value(field, operand, what)
        if isinstance(value, bool):
            raise ValidationError(f"{what}: booleans have no order")
        return value
    if op in ("like", "ilike"):
        pattern = like_pattern(operand, what)
        if not field.is_json:
            _require_text(field, what)
        return pattern
    if op == "is_null":
        if not isinstance(operand, bool):
            raise ValidationError(f"{what} takes true or false, got {operand!r}")
        return operand
    if op == "of_type":
        _require_text(field, what)
        if not isinstance(operand, str) or not operand.strip("."):
            raise ValidationError(f"{what} takes a dotted type prefix such as 'data.core', got {operand!r}")
        return check_text(operand, what).rstrip(".")
    if not field.is_json:  # has_key, contains
        raise ValidationError(f"{what}: {op} needs a JSON field, {field.name!r} is not one")
    if op == "has_key":
        return check_key(operand, f"key in {what}")
    if not isinstance(operand, (dict, list, tuple)):
        raise ValidationError(f"{what} takes a dict or a list (use == for a single value), got {operand!r}")
    return check_json_value(operand, what)


def like_pattern(pattern: object, what: str = "like") -> str:
    """Return ``pattern`` if it is a valid LIKE pattern (``%`` any run, ``_`` one character, ``\\`` escapes).

    :raises ValidationError: it is not a string, holds a NUL or ends with a lone backslash.
    """
    if not isinstance(pattern, str):
        raise ValidationError(f"{what}: like patterns are strings, got {pattern!r}")
    check_text(pattern, what)
    trailing = len(pattern) - len(pattern.rstrip("\\"))
    if trailing % 2:
        raise ValidationError(f"{what}: like pattern {pattern!r} ends with an unfinished escape '\\'")
    return pattern


def _require_text(field: FieldRef, what: str) -> None:
    if field.kind is not FieldKind.TEXT:
        raise ValidationError(f"{what}: needs a text field, {field.name!r} is not one")
