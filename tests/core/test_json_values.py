"""JSON values: what is converted, what is refused (with the key path), and that clean values round-trip."""

from __future__ import annotations

import datetime
import enum
import math

import pytest
from hypothesis import given
from provstore.exceptions import ValidationError
from provstore.storage.json_values import MAX_DEPTH, clean_json_dict, clean_json_value
from support.json_strategies import JSON_VALUES


class Colour(str, enum.Enum):
    RED = "red"


@given(JSON_VALUES)
def test_clean_values_are_equal_copies(value):
    cleaned = clean_json_value(value)
    assert cleaned == value
    if isinstance(value, dict | list) and value:
        assert cleaned is not value


def test_conversions():
    moment = datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.timezone.utc)
    value = {"t": (1, (2, 3)), "when": moment, "day": datetime.date(2024, 5, 1), "colour": Colour.RED}
    assert clean_json_value(value) == {
        "t": [1, [2, 3]],
        "when": "2024-05-01T12:30:00+00:00",
        "day": "2024-05-01",
        "colour": "red",
    }
    assert type(clean_json_value(Colour.RED)) is str


@pytest.mark.parametrize(
    ("value", "path", "message"),
    [
        ({"a": {"b": [1, math.nan]}}, "attributes.a.b[1]", "nan is not allowed"),
        ({"a": math.inf}, "attributes.a", "inf is not allowed"),
        ({"a": -math.inf}, "attributes.a", "-inf is not allowed"),
        ({"a": b"bytes"}, "attributes.a", "type bytes"),
        ({"a": {1, 2}}, "attributes.a", "type set"),
        ({"a": object()}, "attributes.a", "type object"),
        ({"a": {1: "x"}}, "attributes.a", "keys must be strings"),
        ({"a": {"b.c": 1}}, "attributes.a", "must not contain '.'"),
        ({"a": {"": 1}}, "attributes.a", "must not be empty"),
        ({"a": "nul\x00"}, "attributes.a", "NUL"),
        ({"a": "\ud800"}, "attributes.a", "not valid unicode"),
        ({"a": 2**63}, "attributes.a", "64-bit"),
        ({"a": [[{"b": complex(1, 2)}]]}, "attributes.a[0][0].b", "type complex"),
    ],
)
def test_invalid_values_name_the_key_path(value, path, message):
    with pytest.raises(ValidationError) as excinfo:
        clean_json_dict(value, "attributes")
    assert str(excinfo.value).startswith(path + ":") or str(excinfo.value).startswith(path + " ")
    assert message in str(excinfo.value)


def test_not_a_dict():
    with pytest.raises(ValidationError, match="attributes must be a dict, got list"):
        clean_json_dict([1], "attributes")


def test_nesting_limit():
    def nested(depth):
        value = 1
        for _ in range(depth):
            value = [value]
        return value

    assert clean_json_dict({"a": nested(MAX_DEPTH - 1)}, "x")  # the dict itself is level 1
    with pytest.raises(ValidationError, match=f"nesting deeper than {MAX_DEPTH} levels"):
        clean_json_dict({"a": nested(MAX_DEPTH)}, "x")


def test_self_referencing_value_is_refused():
    value = []
    value.append(value)
    with pytest.raises(ValidationError, match="nesting deeper"):
        clean_json_value(value)


def test_numpy_scalars_become_python_numbers():
    numpy = pytest.importorskip("numpy")
    cleaned = clean_json_value({"i": numpy.int64(3), "f": numpy.float32(0.5), "t": (numpy.int8(1),)})
    assert cleaned == {"i": 3, "f": 0.5, "t": [1]}
    assert [type(cleaned["i"]), type(cleaned["f"]), type(cleaned["t"][0])] == [int, float, int]
    with pytest.raises(ValidationError, match="values of type ndarray"):
        clean_json_value({"a": numpy.arange(3)}, "attributes")
    with pytest.raises(ValidationError, match="nan is not allowed"):
        clean_json_value(numpy.float64("nan"))
