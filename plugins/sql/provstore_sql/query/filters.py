"""Compile a parsed filter tree (:mod:`provstore.query.filters`) into a two-valued SQL condition.

The tree is already validated by the core; this module only chooses the SQL. ``and``/``or`` lists become
balanced trees of parenthesised terms, so that a long list never exceeds SQLite's expression depth limit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from provstore.query.fields import FieldRef
from provstore.query.filters import And, Condition, Filter, Not, Or
from sqlalchemy import ColumnElement, FromClause, and_, false, not_

from provstore_sql.query.dialects import Dialect, all_of, any_of
from provstore_sql.tables import UuidType, canonical_uuid

__all__ = ["FilterCompiler"]


class FilterCompiler:
    """Compile the filters of one entity (or link) against the alias of its table."""

    def __init__(self, dialect: Dialect, alias: FromClause) -> None:
        """Prepare to compile filters on ``alias`` (an alias of the entity's table)."""
        self.dialect = dialect
        self.alias = alias
        self._operators: dict[str, Callable[[FieldRef, Any], ColumnElement[bool]]] = {
            "==": self._eq,
            "in": self._in,
            "<": self._ordering("<"),
            "<=": self._ordering("<="),
            ">": self._ordering(">"),
            ">=": self._ordering(">="),
            "like": self._like(insensitive=False),
            "ilike": self._like(insensitive=True),
            "has_key": self._has_key,
            "contains": self._contains,
            "is_null": self._is_null,
            "of_type": self._of_type,
        }

    def compile(self, tree: Filter) -> ColumnElement[bool]:
        """Return the condition of ``tree``: true or false for every row, never SQL NULL."""
        if isinstance(tree, Condition):
            condition = self._operators[tree.operator](tree.field, tree.operand)
            return not_(condition) if tree.negated else condition
        if isinstance(tree, And):
            return all_of([self.compile(part) for part in tree.parts])
        if isinstance(tree, Or):
            return any_of([self.compile(part) for part in tree.parts])
        assert isinstance(tree, Not)
        return not_(self.compile(tree.part))

    # -------------------------------------------------------------------------------------------- operators
    def _column(self, field: FieldRef) -> ColumnElement[Any]:
        return self.alias.c[field.name]

    def _guard(self, field: FieldRef, condition: ColumnElement[bool]) -> ColumnElement[bool]:
        """Return ``condition`` made false (not NULL) where a nullable column is NULL."""
        if field.spec.nullable:
            return and_(self._column(field).isnot(None), condition)
        return condition

    def _eq(self, field: FieldRef, operand: Any) -> ColumnElement[bool]:
        if field.is_json:
            return self.dialect.json_eq(self._column(field), field.path or (), operand)
        if operand is None:
            return self._column(field).is_(None)
        if isinstance(self._column(field).type, UuidType):  # a value that is no uuid matches nothing
            operand = canonical_uuid(operand)
            if operand is None:
                return false()
        return self._guard(field, self._column(field) == operand)

    def _in(self, field: FieldRef, values: tuple[Any, ...]) -> ColumnElement[bool]:
        if not values:
            return false()
        if field.is_json:
            return self.dialect.json_in(self._column(field), field.path or (), list(values))
        return self._guard(field, self.dialect.in_values(self._column(field), list(values)))

    def _ordering(self, op: str) -> Callable[[FieldRef, Any], ColumnElement[bool]]:
        def compare(field: FieldRef, operand: Any) -> ColumnElement[bool]:
            if field.is_json:
                return self.dialect.json_compare(self._column(field), field.path or (), op, operand)
            return self._guard(field, self.dialect.compare(self._column(field), op, operand))

        return compare

    def _like(self, insensitive: bool) -> Callable[[FieldRef, Any], ColumnElement[bool]]:
        def like(field: FieldRef, pattern: str) -> ColumnElement[bool]:
            if field.is_json:
                return self.dialect.json_like(self._column(field), field.path or (), pattern, insensitive)
            return self._guard(field, self.dialect.like(self._column(field), pattern, insensitive))

        return like

    def _has_key(self, field: FieldRef, key: str) -> ColumnElement[bool]:
        return self.dialect.json_has_key(self._column(field), field.path or (), key)

    def _contains(self, field: FieldRef, operand: Any) -> ColumnElement[bool]:
        return self.dialect.json_contains(self._column(field), field.path or (), operand)

    def _of_type(self, field: FieldRef, prefix: str) -> ColumnElement[bool]:
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        column = self._column(field)
        condition = (column == prefix) | self.dialect.like(column, escaped + ".%", insensitive=False)
        return self._guard(field, condition)

    def _is_null(self, field: FieldRef, operand: bool) -> ColumnElement[bool]:
        if field.is_json:
            condition = self.dialect.json_is_null(self._column(field), field.path or ())
        else:
            condition = self._column(field).is_(None)
        return condition if operand else not_(condition)
