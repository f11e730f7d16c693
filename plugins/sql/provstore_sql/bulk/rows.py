"""Row validation and batching for the bulk operations: checked before anything is sent to the database."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from provstore.exceptions import IntegrityError
from provstore.storage.entity_types import EntityTypes
from sqlalchemy import Table

from provstore_sql import tables

__all__ = ["RowPreparer", "table_for"]

_TABLES: dict[EntityTypes, Table] = {
    EntityTypes.USER: tables.users,
    EntityTypes.COMPUTER: tables.computers,
    EntityTypes.AUTHINFO: tables.authinfos,
    EntityTypes.GROUP: tables.groups,
    EntityTypes.NODE: tables.nodes,
    EntityTypes.COMMENT: tables.comments,
    EntityTypes.LOG: tables.logs,
    EntityTypes.LINK: tables.links,
    EntityTypes.GROUP_NODE: tables.group_nodes,
}


def table_for(entity_type: EntityTypes | str) -> Table:
    """Return the table holding ``entity_type``.

    :raises IntegrityError: the entity type is unknown.
    """
    try:
        return _TABLES[EntityTypes(entity_type)]
    except ValueError:
        names = ", ".join(e.value for e in EntityTypes)
        raise IntegrityError(f"unknown entity type {entity_type!r}; known: {names}") from None


class RowPreparer:
    """Check rows against a table's columns (named as in the schema, ``id`` excluded) and fill defaults."""

    def __init__(self, table: Table, allow_defaults: bool) -> None:
        self.table = table
        self.allow_defaults = allow_defaults
        self.columns = frozenset(column.name for column in table.columns if not column.primary_key)
        self._defaults: dict[str, Callable[[], Any]] = {}
        self._required: set[str] = set()
        for column in table.columns:
            if column.primary_key:
                continue
            default = column.default
            if default is not None and default.is_callable:
                self._defaults[column.name] = _without_context(default.arg)  # type: ignore[union-attr]
            elif default is not None and default.is_scalar:
                self._defaults[column.name] = _constant(default.arg)  # type: ignore[union-attr]
            elif column.nullable:
                self._defaults[column.name] = _constant(None)
            else:
                self._required.add(column.name)
        self._index = 0

    def many(self, rows: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """Return the rows as complete parameter dicts, like calling this on each in order.

        Lists of complete plain dicts (the common case) are recognised in three C-level passes, with no Python
        call per row (0.1 s instead of 0.37 s per million link rows): if every row has as many keys as there
        are columns and all keys together are the columns, each row's keys are exactly the columns.

        :raises IntegrityError: a row is not a mapping, has unknown keys, or misses keys that have no default.
        """
        if (
            set(map(type, rows)) == {dict}
            and set(map(len, rows)) == {len(self.columns)}
            and set().union(*rows) == self.columns
        ):
            self._index += len(rows)
            return rows
        return list(map(self, rows))

    def __call__(self, row: Mapping[str, Any]) -> Mapping[str, Any]:
        """Return the row as a complete parameter dict.

        :raises IntegrityError: the row is not a mapping, has unknown keys, or misses keys that have no default.
        """
        index = self._index
        self._index += 1
        if row.__class__ is dict and row.keys() == self.columns:  # the common case: a complete dict, one C call
            return row
        if not isinstance(row, Mapping):
            raise IntegrityError(f"{self.table.name} row {index} is a {type(row).__name__}, not a mapping")
        keys = row.keys()
        unknown = keys - self.columns
        if unknown:
            raise IntegrityError(f"{self.table.name} row {index} has unknown keys: {', '.join(sorted(unknown))}")
        missing = self.columns - keys
        if not missing:
            return row  # type: ignore[return-value]  # read only from here on: no copy needed
        if not self.allow_defaults or missing & self._required:
            lacking = missing if not self.allow_defaults else missing & self._required
            raise IntegrityError(f"{self.table.name} row {index} misses keys: {', '.join(sorted(lacking))}")
        params = dict(row)
        for name in missing:
            params[name] = self._defaults[name]()
        return params


def _constant(value: Any) -> Callable[[], Any]:
    """Return a function returning the scalar ``value``."""
    return lambda: value


def _without_context(func: Callable[[Any], Any]) -> Callable[[], Any]:
    """Adapt a SQLAlchemy column default callable (which takes an execution context) to a no-argument one."""
    return lambda: func(None)
