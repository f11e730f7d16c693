"""Node attributes and extras (and group extras): set, get, delete, reset, validation, immutability, mtime."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from provstore.exceptions import IntegrityError, NotExistent, ValidationError
from support.json_strategies import JSON_DICTS

DATA = "data.core.dict.Dict."
CALC = "process.calculation.job."
WORK = "process.workflow.work."


def reload(storage, node):
    storage.get_session().expire_all()
    return storage.nodes.get(node.pk)


@pytest.fixture(params=["unstored", "stored"])
def process(request, storage):
    """A process node (whose attributes stay mutable after store), stored or not."""
    node = storage.nodes.create(node_type=CALC)
    return node.store() if request.param == "stored" else node


def test_attribute_methods(process):
    process.set_attribute("a", 1)
    process.set_attribute_many({"b": {"c": [1, 2]}, "d": "x"})
    assert process.get_attribute("a") == 1
    assert process.get_attribute("missing", None) is None
    assert process.attributes == {"a": 1, "b": {"c": [1, 2]}, "d": "x"}
    assert process.attributes_keys() == ["a", "b", "d"]
    assert dict(process.attributes_items()) == process.attributes
    process.delete_attribute("a")
    process.delete_attribute_many(["d"])
    assert process.attributes == {"b": {"c": [1, 2]}}
    process.reset_attributes({"z": True})
    assert process.attributes == {"z": True}
    process.clear_attributes()
    assert process.attributes == {}


def test_extra_methods(process):
    process.set_extra("a", 1)
    process.set_extra_many({"b": [None]})
    assert process.get_extra("a") == 1
    assert process.extras == {"a": 1, "b": [None]}
    assert process.extras_keys() == ["a", "b"]
    assert dict(process.extras_items()) == {"a": 1, "b": [None]}
    process.delete_extra("a")
    process.delete_extra_many(["b"])
    assert process.extras == {}
    process.reset_extras({"c": 2.5})
    assert process.get_extra("c") == 2.5
    process.clear_extras()
    assert process.extras == {}


def test_missing_keys_raise_not_existent(process):
    process.set_attribute("a", 1)
    with pytest.raises(NotExistent, match="has no attribute 'x'"):
        process.get_attribute("x")
    with pytest.raises(KeyError):  # NotExistent is a KeyError
        process.get_extra("x")
    with pytest.raises(NotExistent, match="has no attribute 'x'"):
        process.delete_attribute_many(["a", "x"])
    assert process.attributes == {"a": 1}  # nothing deleted
    with pytest.raises(NotExistent, match="has no extra 'y'"):
        process.delete_extra("y")


def test_returned_values_are_copies(process):
    process.set_attribute("a", {"b": [1]})
    process.get_attribute("a")["b"].append(2)
    process.attributes["a"]["b"].append(3)
    for _, value in process.attributes_items():
        value["b"].append(4)
    assert process.get_attribute("a") == {"b": [1]}


def test_stored_values_are_copies_of_the_input(process):
    value = {"b": [1]}
    process.set_attribute("a", value)
    value["b"].append(2)
    assert process.get_attribute("a") == {"b": [1]}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"ok": 1, "bad": math.nan}, r"attributes\.bad: nan"),
        ({"ok": 1, "x.y": 1}, "must not contain '.'"),
        ({"ok": 1, 5: 1}, "keys must be strings"),
        ({"ok": 1, "deep": {"set": {1}}}, r"attributes\.deep\.set: values of type set"),
        ({"ok": 1, "bytes": b"\x00"}, r"attributes\.bytes: values of type bytes"),
    ],
)
def test_invalid_values_change_nothing(storage, process, values, message):
    process.set_attribute("kept", 1)
    with pytest.raises(ValidationError, match=message):
        process.set_attribute_many(values)
    with pytest.raises(ValidationError):
        process.reset_attributes(values)
    assert process.attributes == {"kept": 1}
    if process.is_stored:
        assert reload(storage, process).attributes == {"kept": 1}


def test_invalid_extras_change_nothing(process):
    process.set_extra("kept", 1)
    with pytest.raises(ValidationError, match=r"extras\.inf: inf"):
        process.set_extra("inf", math.inf)
    with pytest.raises(ValidationError, match="extras must be a dict"):
        process.reset_extras([1])
    assert process.extras == {"kept": 1}


def test_tuples_become_lists(storage, process):
    process.set_attribute("t", (1, (2, "x")))
    assert process.get_attribute("t") == [1, [2, "x"]]
    if process.is_stored:
        assert reload(storage, process).get_attribute("t") == [1, [2, "x"]]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(attributes=JSON_DICTS, extras=JSON_DICTS)
def test_generated_values_round_trip(storage, attributes, extras):
    node = storage.nodes.create(node_type=WORK, attributes=attributes, extras=extras).store()
    fresh = reload(storage, node)
    assert_same_json(fresh.attributes, attributes)
    assert_same_json(fresh.extras, extras)
    fresh.reset_extras(attributes)
    assert_same_json(reload(storage, node).extras, attributes)


def assert_same_json(actual, expected):
    """Assert equal values of equal types on every backend (floats included, see test_float_values)."""
    assert type(actual) is type(expected), (actual, expected)
    if isinstance(expected, dict):
        assert actual.keys() == expected.keys()
        for key, value in expected.items():
            assert_same_json(actual[key], value)
    elif isinstance(expected, list):
        assert len(actual) == len(expected)
        for item, value in zip(actual, expected, strict=True):
            assert_same_json(item, value)
    else:
        assert actual == expected


def test_stored_data_node_attributes_are_immutable(storage):
    data = storage.nodes.create(node_type=DATA, attributes={"value": 1}).store()
    for change in (
        lambda: data.set_attribute("value", 2),
        lambda: data.set_attribute_many({"other": 2}),
        lambda: data.reset_attributes({}),
        lambda: data.delete_attribute("value"),
        lambda: data.clear_attributes(),
    ):
        with pytest.raises(IntegrityError, match=r"stored data node .* immutable"):
            change()
    assert reload(storage, data).attributes == {"value": 1}
    data.set_extra("tag", "ok")  # extras stay mutable
    data.label = "relabelled"
    assert reload(storage, data).extras == {"tag": "ok"}


def test_seal(storage):
    calc = storage.nodes.create(node_type=CALC)
    with pytest.raises(ValidationError, match="only stored process nodes can be sealed"):
        calc.seal()
    calc.store()
    calc.set_attribute("state", "running")
    assert not calc.is_sealed
    calc.seal()
    assert calc.is_sealed
    calc.seal()  # idempotent
    with pytest.raises(IntegrityError, match="is sealed"):
        calc.set_attribute("state", "changed")
    assert reload(storage, calc).attributes == {"state": "running", "sealed": True}
    calc.set_extra("note", "fine")
    data = storage.nodes.create(node_type=DATA).store()
    with pytest.raises(ValidationError, match="only stored process nodes"):
        data.seal()


def test_mtime_follows_every_change(storage):
    node = storage.nodes.create(node_type=WORK).store()
    ctime = node.ctime
    previous = node.mtime
    for change in (
        lambda: node.set_attribute("a", 1),
        lambda: node.set_extra("b", 2),
        lambda: setattr(node, "label", "new"),
        lambda: node.put_object_from_bytes(b"x", "f.txt"),
    ):
        change()
        current = reload(storage, node).mtime
        assert current > previous
        previous = current
    assert reload(storage, node).ctime == ctime


def test_group_extras(storage):
    group = storage.groups.create(label="g", extras={"a": 1}).store()
    group.set_extra("b", [1])
    with pytest.raises(ValidationError, match=r"extras.c"):
        group.set_extra("c", {1, 2})
    storage.get_session().expire_all()
    assert storage.groups.get(group.pk).extras == {"a": 1, "b": [1]}
