"""Make values safe to store in a JSON column, identically on every database, or say exactly why not.

Rules (one place, used for node attributes and extras, group extras and every JSON field):

- ``dict`` keys are non-empty strings without ``.`` (the path separator of queries) or NUL.
- Values are ``None``, ``bool``, ``str`` (no NUL, no lone surrogates: PostgreSQL JSONB refuses them),
  integers in the signed 64-bit range, finite floats, lists and dicts. A float reads back as the same
  float on every database, except that ``-0.0`` becomes ``0.0`` (PostgreSQL's ``numeric`` has no negative
  zero, so no backend keeps it). Tuples become lists, other ``numbers.Integral``/``numbers.Real``
  (e.g. numpy scalars) become ``int``/``float``,
  ``datetime.datetime``/``datetime.date`` become their ISO 8601 string (read back as that string).
  Arrays are refused: convert them first (e.g. numpy's ``array.tolist()``).
- Containers nest at most :data:`MAX_DEPTH` levels deep.

Anything else (NaN, infinity, bytes, sets, objects, non-string keys) raises
:class:`~provstore.exceptions.ValidationError` naming the offending key path.
"""

from __future__ import annotations

import datetime
import math
import numbers
from collections.abc import Mapping
from typing import Any

from provstore.exceptions import ValidationError

__all__ = ["MAX_DEPTH", "check_text", "clean_json_dict", "clean_json_value", "validate_json_key"]

MAX_DEPTH = 100
"""Deepest nesting of lists and dicts accepted inside a JSON field (the field's own dict is level 1)."""

_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


def validate_json_key(key: object, where: str = "key") -> str:
    """Return ``key`` if it can be a dict key in a JSON field, else raise ValidationError."""
    if not isinstance(key, str):
        raise ValidationError(f"{where}: dict keys must be strings, got {type(key).__name__} {key!r}")
    if not key:
        raise ValidationError(f"{where}: dict keys must not be empty")
    if "." in key:
        raise ValidationError(f"{where}: dict key {key!r} must not contain '.' (the query path separator)")
    check_text(key, where)
    return str.__str__(key)


def clean_json_dict(value: object, name: str) -> dict[str, Any]:
    """Return a JSON-safe deep copy of the dict ``value`` of the field ``name``, or raise ValidationError."""
    if not isinstance(value, Mapping):
        raise ValidationError(f"{name} must be a dict, got {type(value).__name__}")
    return clean_json_value(value, name)


def clean_json_value(value: object, path: str = "value") -> Any:
    """Return a JSON-safe deep copy of ``value``; ``path`` names it in error messages."""
    return _clean(value, path, 0)


def check_text(text: str, path: str) -> None:
    """Raise ValidationError if ``text`` cannot be stored on every database (NUL, lone surrogates)."""
    if "\x00" in text:
        raise ValidationError(f"{path}: strings must not contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError(f"{path}: string is not valid unicode ({exc.reason})") from None


def _clean(value: Any, path: str, depth: int) -> Any:
    # exact types first: they are by far the most common and need no conversion
    kind = type(value)
    if value is None or kind is bool:
        return value
    if kind is str:
        check_text(value, path)
        return value
    if kind is int:
        if not _INT_MIN <= value <= _INT_MAX:
            raise ValidationError(f"{path}: integer {value} is outside the signed 64-bit range")
        return value
    if kind is float:
        if not math.isfinite(value):
            raise ValidationError(f"{path}: {value} is not allowed in JSON (only finite numbers)")
        return 0.0 if value == 0.0 else value  # -0.0 becomes 0.0, as every backend stores it
    if isinstance(value, Mapping):
        _check_depth(path, depth)
        result = {}
        for key, item in value.items():
            key = validate_json_key(key, path)
            result[key] = _clean(item, f"{path}.{key}", depth + 1)
        return result
    if isinstance(value, list | tuple):
        _check_depth(path, depth)
        return [_clean(item, f"{path}[{index}]", depth + 1) for index, item in enumerate(value)]
    if isinstance(value, str):  # str subclasses such as str enums: store the plain string
        return _clean(str.__str__(value), path, depth)
    if isinstance(value, bool | numbers.Integral):
        return _clean(bool(value) if isinstance(value, bool) else int(value), path, depth)
    if isinstance(value, numbers.Real):
        return _clean(float(value), path, depth)
    if isinstance(value, datetime.date):  # datetime is a subclass of date
        return value.isoformat()
    raise ValidationError(f"{path}: values of type {kind.__name__} cannot be stored in JSON")


def _check_depth(path: str, depth: int) -> None:
    if depth >= MAX_DEPTH:
        raise ValidationError(f"{path}: nesting deeper than {MAX_DEPTH} levels")
