"""Parse and validate field names (``label``, ``attributes.a.b.0``) and the JSON values compared with them.

Nothing a user writes ever becomes SQL text: field names must name a column, and the keys of an
attribute path must look like identifiers (letters, digits, ``_``, ``-``; all-digit segments index a
list), so that they can be quoted inside the JSON path strings the dialects bind as parameters.
"""

from __future__ import annotations

import datetime
import math
import re
from dataclasses import dataclass
from typing import Any

from provstore.exceptions import ValidationError
from sqlalchemy import JSON, Column, Table

__all__ = ["FieldRef", "JsonPath", "check_json_value", "check_key", "parse_field"]

_KEY = re.compile(r"^[\w-]+$")
_INDEX = re.compile(r"^[0-9]+$")
_INT64 = 2**63

JsonPath = tuple[str | int, ...]
"""A path inside a JSON document: ``str`` segments are object keys, ``int`` segments list indexes."""


@dataclass(frozen=True)
class FieldRef:
    """A column of an entity, and for JSON columns an optional path into its value."""

    column: Column[Any]
    path: JsonPath | None = None

    @property
    def python_type(self) -> type:
        """Return the Python type of the column's values (looking through type decorators)."""
        column_type = self.column.type
        return getattr(column_type, "impl", column_type).python_type

    @property
    def is_json(self) -> bool:
        """Return whether the field is a JSON value (a JSON column, with or without a path)."""
        return isinstance(self.column.type, JSON)


def check_key(key: object, what: str = "key") -> str:
    """Return ``key`` if it is a valid JSON object key (letters, digits, ``_``, ``-``).

    :raises ValidationError: it is not.
    """
    if not isinstance(key, str) or not _KEY.match(key):
        raise ValidationError(f"invalid {what} {key!r}: keys may contain only letters, digits, '_' and '-'")
    return key


def parse_field(table: Table, entity: str, name: object) -> FieldRef:
    """Return the field ``name`` of ``entity`` (a column name, or ``<json column>.<key>.<key|index>...``).

    :raises ValidationError: the column does not exist, has no paths, or a path segment is invalid.
    """
    if not isinstance(name, str) or not name:
        raise ValidationError(f"field names are non-empty strings, got {name!r}")
    column_name, _, rest = name.partition(".")
    if column_name not in table.columns:
        valid = ", ".join(column.name for column in table.columns)
        json_names = [column.name for column in table.columns if isinstance(column.type, JSON)]
        paths = f" (and paths in JSON fields: {', '.join(f'{n}.<key>' for n in json_names)})" if json_names else ""
        raise ValidationError(f"unknown field {column_name!r} of {entity}; valid fields: {valid}{paths}")
    column = table.columns[column_name]
    if not rest and "." not in name:
        return FieldRef(column)
    if not isinstance(column.type, JSON):
        raise ValidationError(f"field {column_name!r} of {entity} is not JSON: {name!r} cannot have a path")
    path: list[str | int] = []
    for segment in rest.split("."):
        if _INDEX.match(segment):
            path.append(int(segment))
        else:
            path.append(check_key(segment, f"path segment in {name!r}"))
    return FieldRef(column, tuple(path))


def check_json_value(value: Any, what: str) -> Any:
    """Return ``value`` if it is a JSON value provstore can compare identically on every dialect.

    Accepted: None, bool, int within 64 bits, finite float, str without NUL, lists and dicts of these
    (dict keys follow :func:`check_key`).

    :raises ValidationError: it is not.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not -_INT64 <= value < _INT64:
            raise ValidationError(f"{what}: integer {value} does not fit in 64 bits")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(f"{what}: {value} is not a JSON number")
        return value
    if isinstance(value, str):
        return check_text(value, what)
    if isinstance(value, (list, tuple)):
        return [check_json_value(item, what) for item in value]
    if isinstance(value, dict):
        return {check_key(key, f"key in {what}"): check_json_value(item, what) for key, item in value.items()}
    raise ValidationError(f"{what}: {type(value).__name__} is not a JSON value")


def check_text(value: str, what: str) -> str:
    """Return ``value`` if a database can hold it (no NUL character, which PostgreSQL rejects)."""
    if "\x00" in value:
        raise ValidationError(f"{what}: strings cannot contain the NUL character")
    return value


def check_column_value(field: FieldRef, value: Any, what: str) -> Any:
    """Return ``value`` converted for comparison with the (non-JSON) column of ``field``.

    Aware datetimes are converted to UTC (the storage keeps UTC); naive ones are taken as UTC.

    :raises ValidationError: the value's type does not match the column's.
    """
    python_type = field.python_type
    if python_type is bool:
        ok = isinstance(value, bool)
    elif python_type is int:
        ok = isinstance(value, int) and not isinstance(value, bool) and -_INT64 <= value < _INT64
    elif python_type is datetime.datetime:
        ok = isinstance(value, datetime.datetime)
        if ok:
            utc = datetime.timezone.utc
            value = value.replace(tzinfo=utc) if value.tzinfo is None else value.astimezone(utc)
    else:
        ok = isinstance(value, str)
        if ok:
            check_text(value, what)
    if not ok:
        raise ValidationError(f"{what}: expected {python_type.__name__} for {field.column.name!r}, got {value!r}")
    return value
