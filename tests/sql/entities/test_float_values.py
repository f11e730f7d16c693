"""Floats in JSON fields: generated values through both SQL write paths, and the SQL layer's JSON writer."""

from __future__ import annotations

import math
import uuid

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from provstore.storage import EntityTypes
from provstore_sql.engine import json_dumps

WORK = "process.workflow.work."

FLOATS = st.floats(allow_nan=False, allow_infinity=False)


def reload(storage, node):
    storage.get_session().expire_all()
    return storage.nodes.get(node.pk)


def assert_same_float(actual, expected):
    """Assert a float of the same value; zero reads back as +0.0 (the documented fate of -0.0)."""
    assert type(actual) is float, (actual, expected)
    assert actual == expected
    if expected == 0:
        assert math.copysign(1.0, actual) == 1.0, actual


def document(value: float) -> dict:
    """A JSON dict holding ``value`` at the top level, in a list and in a nested dict."""
    return {"x": value, "list": [value, 1, value], "nested": {"y": [{"z": value}]}}


def assert_document(actual: dict, value: float) -> None:
    assert actual.keys() == {"x", "list", "nested"}
    assert_same_float(actual["x"], value)
    assert_same_float(actual["list"][0], value)
    assert actual["list"][1] == 1 and type(actual["list"][1]) is int
    assert_same_float(actual["list"][2], value)
    assert_same_float(actual["nested"]["y"][0]["z"], value)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=FLOATS)
@example(value=5.3e16)
@example(value=-0.0)
@example(value=-1.7976931348623157e308)
@example(value=5e-324)
def test_generated_floats_round_trip_through_the_entity_api(storage, value):
    node = storage.nodes.create(node_type=WORK, attributes=document(value)).store()
    fresh = reload(storage, node)
    assert_document(fresh.attributes, value)
    fresh.set_extra("e", [value])  # an update, not an insert
    assert_same_float(reload(storage, node).get_extra("e")[0], value)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(FLOATS, min_size=1, max_size=20))
@example(values=[-0.0, 5.3e16, -1.7976931348623157e308, 2.0**60])
def test_generated_floats_round_trip_through_bulk_insert(storage, values):
    """bulk_insert has its own fast paths (PostgreSQL COPY, SQLite multi-row INSERT); they write the same."""
    user_id = storage.default_user.pk
    rows = [
        {"uuid": str(uuid.uuid4()), "node_type": WORK, "user_id": user_id, "attributes": document(value)}
        for value in values
    ]
    pks = storage.bulk_insert(EntityTypes.NODE, rows, allow_defaults=True)
    storage.get_session().expire_all()
    for pk, value in zip(pks, values, strict=True):
        assert_document(storage.nodes.get(pk).attributes, value)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (5.3e16, "53000000000000000.0"),
        (-1e16, "-10000000000000000.0"),
        (2.0**60, "1152921504606846976.0"),
        (1e23, "99999999999999991611392.0"),
        (-0.0, "0.0"),
        (-0.05, "-0.05"),
        (1e-05, "1e-05"),
        (9999999999999998.0, "9999999999999998.0"),
        (-9223372036854775808, "-9223372036854775808"),
    ],
)
def test_json_dumps_writes_floats_that_numeric_keeps(value, text):
    assert json_dumps(value) == text
    assert json_dumps({"k": [value]}) == '{"k":[' + text + "]}"


def test_json_dumps_leaves_strings_alone():
    value = {"5.3e+16": "-0.0 and 1e+16", 'quote"e+1': ['\\"-0.0', 1e16]}
    assert json_dumps(value) == '{"5.3e+16":"-0.0 and 1e+16","quote\\"e+1":["\\\\\\"-0.0",10000000000000000.0]}'
