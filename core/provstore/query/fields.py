"""Field paths (``label``, ``attributes.a.b.0``) and the values compared with fields, parsed and validated.

Field names must name a field of the entity, and the keys of a JSON path must look like identifiers
(letters, digits, ``_``, ``-``; all-digit segments index a list), so that a backend can quote them inside
the path expressions of its query language: nothing a user writes ever becomes query text.
"""

from __future__ import annotations

import datetime
import math
import re
import uuid
from dataclasses import dataclass
from typing import Any

from provstore.exceptions import ValidationError
from provstore.query.schema import EntityKind, FieldKind, FieldSpec

__all__ = [
    "INT64",
    "FieldRef",
    "JsonPath",
    "check_column_value",
    "check_json_value",
    "check_key",
    "check_members",
    "check_text",
    "is_number",
    "normalise_uuid",
    "parse_field",
]

_KEY = re.compile(r"^[\w-]+$")
_INDEX = re.compile(r"^[0-9]+$")
_CANONICAL_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

INT64 = 2**63
"""Integers must lie in ``[-INT64, INT64)``: what every database stores and compares exactly."""

JsonPath = tuple[str | int, ...]
"""A path inside a JSON document: ``str`` segments are object keys, ``int`` segments list indexes."""


@dataclass(frozen=True)
class FieldRef:
    """A field of an entity, and for JSON fields an optional path into its value (None: the whole value)."""

    entity: str
    spec: FieldSpec
    path: JsonPath | None = None

    @property
    def name(self) -> str:
        """Return the name of the field (without the path)."""
        return self.spec.name

    @property
    def kind(self) -> FieldKind:
        """Return the kind of the field's values."""
        return self.spec.kind

    @property
    def is_json(self) -> bool:
        """Return whether the field is a JSON value (a JSON field, with or without a path)."""
        return self.spec.is_json

    def __str__(self) -> str:
        return ".".join([self.name, *(str(segment) for segment in self.path or ())])


def is_number(value: object) -> bool:
    """Return whether ``value`` is a JSON number (bool excluded)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_key(key: object, what: str = "key") -> str:
    """Return ``key`` if it is a valid JSON object key (letters, digits, ``_``, ``-``).

    :raises ValidationError: it is not.
    """
    if not isinstance(key, str) or not _KEY.match(key):
        raise ValidationError(f"invalid {what} {key!r}: keys may contain only letters, digits, '_' and '-'")
    return key


def parse_field(entity: EntityKind, name: object) -> FieldRef:
    """Return the field ``name`` of ``entity`` (a field name, or ``<json field>.<key>.<key|index>...``).

    :raises ValidationError: the field does not exist, has no paths, or a path segment is invalid.
    """
    if not isinstance(name, str) or not name:
        raise ValidationError(f"field names are non-empty strings, got {name!r}")
    field_name, dot, rest = name.partition(".")
    spec = entity.field(field_name)
    if spec is None:
        valid = ", ".join(entity.field_names)
        json_names = [field.name for field in entity.fields if field.is_json]
        paths = f" (and paths in JSON fields: {', '.join(f'{n}.<key>' for n in json_names)})" if json_names else ""
        raise ValidationError(f"unknown field {field_name!r} of {entity.name}; valid fields: {valid}{paths}")
    if not dot:
        return FieldRef(entity.name, spec)
    if not spec.is_json:
        raise ValidationError(f"field {field_name!r} of {entity.name} is not JSON: {name!r} cannot have a path")
    path: list[str | int] = []
    for segment in rest.split("."):
        if _INDEX.match(segment):
            path.append(int(segment))
        else:
            path.append(check_key(segment, f"path segment in {name!r}"))
    return FieldRef(entity.name, spec, tuple(path))


def check_text(value: str, what: str) -> str:
    """Return ``value`` if a database can hold it (no NUL character, which PostgreSQL rejects).

    :raises ValidationError: it holds a NUL.
    """
    if "\x00" in value:
        raise ValidationError(f"{what}: strings cannot contain the NUL character")
    return value


def check_json_value(value: Any, what: str) -> Any:
    """Return ``value`` (tuples as lists) if it is a JSON value that compares identically on every backend.

    Accepted: None, bool, int within 64 bits, finite float, str without NUL, lists and dicts of these
    (dict keys follow :func:`check_key`).

    :raises ValidationError: it is not.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not -INT64 <= value < INT64:
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


def normalise_uuid(value: Any, what: str) -> str:
    """Return a uuid operand (``str`` in any case, with or without dashes, or ``uuid.UUID``) as lowercase dashed text.

    A string that is no uuid is returned unchanged (lowercased), so it matches no stored uuid.

    :raises ValidationError: it is neither a string nor a ``uuid.UUID``.
    """
    if isinstance(value, uuid.UUID):
        return str(value)
    if not isinstance(value, str):
        raise ValidationError(f"{what}: expected str or uuid.UUID for 'uuid', got {value!r}")
    if _CANONICAL_UUID.match(value):
        return value
    check_text(value, what)
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return value.lower()


def _is_uuid(field: FieldRef) -> bool:
    return field.name == "uuid" and field.kind is FieldKind.TEXT


def check_members(field: FieldRef, values: Any, what: str) -> tuple[Any, ...]:
    """Return the members of an ``in`` list, each checked as :func:`check_column_value` or, on JSON fields, as a
    JSON scalar; lists of only strings or only integers (the usual long ones) are checked in one pass.

    :raises ValidationError: a member is invalid for the field.
    """
    members = tuple(values)
    if _is_uuid(field):
        return tuple(normalise_uuid(value, what) for value in members)
    kinds = {type(value) for value in members}
    if kinds == {str} and field.kind in (FieldKind.JSON, FieldKind.TEXT):
        if "\x00" in "".join(members):
            check_text("\x00", what)
        return members
    if kinds == {int} and field.kind in (FieldKind.JSON, FieldKind.INTEGER):
        if not -INT64 <= min(members) <= max(members) < INT64:
            bad = next(value for value in members if not -INT64 <= value < INT64)
            raise ValidationError(f"{what}: integer {bad} does not fit in 64 bits")
        return members
    if not field.is_json:
        return tuple(check_column_value(field, value, what) for value in members)
    for value in members:
        if isinstance(value, (dict, list, tuple)):
            raise ValidationError(f"{what}: list members must be JSON scalars, got {value!r}")
    return tuple(check_json_value(value, what) for value in members)


def check_column_value(field: FieldRef, value: Any, what: str) -> Any:
    """Return ``value`` converted for comparison with the (non-JSON) field ``field``.

    Aware datetimes are converted to UTC (the storage keeps UTC); naive ones are taken as UTC. Uuids may be given
    as ``uuid.UUID`` or as text in any case (see :func:`normalise_uuid`).

    :raises ValidationError: the value's type does not match the field's.
    """
    kind = field.kind
    if _is_uuid(field):
        return normalise_uuid(value, what)
    if kind is FieldKind.BOOLEAN:
        ok = isinstance(value, bool)
    elif kind is FieldKind.INTEGER:
        ok = isinstance(value, int) and not isinstance(value, bool)
        if ok and not -INT64 <= value < INT64:
            raise ValidationError(f"{what}: integer {value} does not fit in 64 bits")
    elif kind is FieldKind.DATETIME:
        ok = isinstance(value, datetime.datetime)
        if ok:
            utc = datetime.timezone.utc
            value = value.replace(tzinfo=utc) if value.tzinfo is None else value.astimezone(utc)
    else:
        ok = isinstance(value, str)
        if ok:
            check_text(value, what)
    if not ok:
        raise ValidationError(f"{what}: expected {kind.python_type.__name__} for {field.name!r}, got {value!r}")
    return value
