"""Attributes and extras: the per-key API, the JSON rules of every backend, immutability, sealing and ``mtime``."""

from __future__ import annotations

import datetime
import math
import random
import uuid
from typing import Any

import pytest

from provstore.exceptions import IntegrityError, NotExistent, ValidationError
from provstore.storage import EntityTypes, Node, StorageBackend
from provstore.testing.storage.base import CALC, DATA, WORK, StorageTests, stored_field, writes

__all__ = ["AttributeTests", "JsonValueTests"]

EDGE_FLOATS = [
    5.3e16,
    -5.3e16,
    1e16,
    9999999999999998.0,  # the largest float written without an exponent
    2.0**53 + 2,
    2.0**60,  # its repr (1.152921504606847e+18) is not its exact value
    2.0**63,
    1e23,  # its exact value is 99999999999999991611392
    1.7976931348623157e308,
    -1.7976931348623157e308,
    5e-324,
    -5e-324,
    2.2250738585072014e-308,
    1e-7,
    0.1,
    0.0,
    1.0,
    -1.5,
]
"""Floats whose text forms or magnitudes trip JSON columns; each must read back as the same float."""

EDGE_INTEGERS = [0, 1, -1, 2**31, -(2**31) - 1, 2**53 + 1, 2**63 - 1, -(2**63)]
"""Integers at the edges of 32 bits, of exact doubles and of the signed 64-bit range: they stay exact ints."""

EDGE_STRINGS = ["", "ünïcødé ☃", "emoji 😀", "tab\tnew\nline", 'quote"back\\slash', "'; DROP TABLE x; --", "1e5"]

INVALID_VALUES: dict[str, tuple[Any, str]] = {
    "nan": ({"ok": 1, "bad": math.nan}, r"attributes\.bad: nan"),
    "inf": ({"ok": 1, "bad": math.inf}, r"attributes\.bad: inf"),
    "dot in key": ({"ok": 1, "x.y": 1}, "must not contain '.'"),
    "empty key": ({"ok": 1, "": 1}, "must not be empty"),
    "int key": ({"ok": 1, 5: 1}, "keys must be strings"),
    "set": ({"ok": 1, "deep": {"set": {1}}}, r"attributes\.deep\.set: values of type set"),
    "bytes": ({"ok": 1, "bytes": b"\x00"}, r"attributes\.bytes: values of type bytes"),
    "NUL": ({"ok": 1, "s": "a\x00b"}, "NUL"),
    "surrogate": ({"ok": 1, "s": "\ud800"}, "unicode"),
    "int too large": ({"ok": 1, "i": 2**63}, "64-bit"),
    "object": ({"ok": 1, "o": object()}, "type object"),
}
"""Case -> (attributes, pattern of the ValidationError naming the key path)."""

KEYS = ["a", "b", "c", "0", "ü", "long_key_name"]
SCALARS: list[Any] = [0, 1, -7, 2.5, -0.5, 1e300, 2**62, "", "x", "ü", True, False, None]


def _random_value(rng: random.Random, depth: int) -> Any:
    roll = rng.random()
    if depth >= 4 or roll < 0.45:
        return rng.choice(SCALARS)
    if roll < 0.7:
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {key: _random_value(rng, depth + 1) for key in rng.sample(KEYS, rng.randint(0, 4))}


def random_documents(count: int, seed: int = 1729) -> list[dict[str, Any]]:
    """Return ``count`` random JSON dicts (fixed seed), nested up to four levels."""
    rng = random.Random(seed)
    return [{key: _random_value(rng, 1) for key in rng.sample(KEYS, rng.randint(0, 5))} for _ in range(count)]


def assert_same_json(actual: Any, expected: Any) -> None:
    """Assert equal values of equal types (floats stay floats, ints stay ints, ``True`` is no ``1``)."""
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
        if isinstance(expected, float) and expected == 0:
            assert math.copysign(1.0, actual) == 1.0, "zero reads back as +0.0"


def document(value: Any) -> dict[str, Any]:
    """A JSON dict holding ``value`` at the top level, in a list and in a nested dict."""
    return {"x": value, "list": [value, 1, value], "nested": {"y": [{"z": value}]}}


@writes
class AttributeTests(StorageTests):
    """The attribute and extra methods of nodes (and group extras) behave the same on every backend.

    Checks: set/get/delete/reset/clear/items/keys, missing keys raise ``NotExistent`` (a ``KeyError``) and
    change nothing, values handed out and taken in are copies, invalid values raise ``ValidationError`` naming the
    key path and change nothing (in memory and stored), a stored data node's attributes are immutable while its
    extras and label stay mutable, process nodes are mutable until ``seal()``, and ``mtime`` follows every change.
    """

    @pytest.fixture(params=["unstored", "stored"])
    def process(self, request: pytest.FixtureRequest, provstore_storage: StorageBackend) -> Node:
        """A process node (whose attributes stay mutable after store), stored or not."""
        node = provstore_storage.nodes.create(node_type=CALC)
        return node.store() if request.param == "stored" else node

    def test_attribute_methods(self, provstore_storage: StorageBackend, process: Node) -> None:
        process.set_attribute("a", 1)
        process.set_attribute_many({"b": {"c": [1, 2]}, "d": "x"})
        assert process.get_attribute("a") == 1
        assert process.get_attribute("missing", None) is None
        assert process.attributes == {"a": 1, "b": {"c": [1, 2]}, "d": "x"}
        assert sorted(process.attributes_keys()) == ["a", "b", "d"]
        assert dict(process.attributes_items()) == process.attributes
        process.delete_attribute("a")
        process.delete_attribute_many(["d"])
        assert process.attributes == {"b": {"c": [1, 2]}}
        process.reset_attributes({"z": True})
        assert process.attributes == {"z": True}
        if process.is_stored:
            assert stored_field(provstore_storage, "node", process.pk, "attributes") == {"z": True}
        process.clear_attributes()
        assert process.attributes == {}

    def test_extra_methods(self, provstore_storage: StorageBackend, process: Node) -> None:
        process.set_extra("a", 1)
        process.set_extra_many({"b": [None]})
        assert process.get_extra("a") == 1
        assert process.extras == {"a": 1, "b": [None]}
        assert sorted(process.extras_keys()) == ["a", "b"]
        assert dict(process.extras_items()) == {"a": 1, "b": [None]}
        process.delete_extra("a")
        process.delete_extra_many(["b"])
        assert process.extras == {}
        process.reset_extras({"c": 2.5})
        assert process.get_extra("c") == 2.5
        if process.is_stored:
            assert stored_field(provstore_storage, "node", process.pk, "extras") == {"c": 2.5}
        process.clear_extras()
        assert process.extras == {}

    def test_missing_keys_raise_not_existent(self, process: Node) -> None:
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

    def test_returned_values_are_copies(self, process: Node) -> None:
        process.set_attribute("a", {"b": [1]})
        process.get_attribute("a")["b"].append(2)
        process.attributes["a"]["b"].append(3)
        for _, value in process.attributes_items():
            value["b"].append(4)
        assert process.get_attribute("a") == {"b": [1]}

    def test_stored_values_are_copies_of_the_input(self, process: Node) -> None:
        value = {"b": [1]}
        process.set_attribute("a", value)
        value["b"].append(2)
        assert process.get_attribute("a") == {"b": [1]}

    @pytest.mark.parametrize("case", list(INVALID_VALUES))
    def test_invalid_values_change_nothing(self, provstore_storage: StorageBackend, process: Node, case: str) -> None:
        values, message = INVALID_VALUES[case]
        process.set_attribute("kept", 1)
        with pytest.raises(ValidationError, match=message):
            process.set_attribute_many(values)
        with pytest.raises(ValidationError):
            process.reset_attributes(values)
        assert process.attributes == {"kept": 1}
        if process.is_stored:
            assert stored_field(provstore_storage, "node", process.pk, "attributes") == {"kept": 1}

    def test_invalid_extras_change_nothing(self, process: Node) -> None:
        process.set_extra("kept", 1)
        with pytest.raises(ValidationError, match=r"extras\.inf: inf"):
            process.set_extra("inf", math.inf)
        with pytest.raises(ValidationError, match="extras must be a dict"):
            process.reset_extras([1])  # type: ignore[arg-type]
        assert process.extras == {"kept": 1}

    def test_conversions(self, provstore_storage: StorageBackend, process: Node) -> None:
        """Tuples become lists and datetimes their ISO string, identically before and after store."""
        moment = datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.timezone.utc)
        process.set_attribute_many({"t": (1, (2, "x")), "when": moment, "day": datetime.date(2024, 5, 1)})
        expected = {"t": [1, [2, "x"]], "when": "2024-05-01T12:30:00+00:00", "day": "2024-05-01"}
        assert process.attributes == expected
        process.store()
        assert stored_field(provstore_storage, "node", process.pk, "attributes") == expected

    def test_stored_data_node_attributes_are_immutable(self, provstore_storage: StorageBackend) -> None:
        data = provstore_storage.nodes.create(node_type=DATA, attributes={"value": 1}).store()
        for change in (
            lambda: data.set_attribute("value", 2),
            lambda: data.set_attribute_many({"other": 2}),
            lambda: data.reset_attributes({}),
            lambda: data.delete_attribute("value"),
            lambda: data.clear_attributes(),
        ):
            with pytest.raises(IntegrityError, match=r"stored data node .* immutable"):
                change()
        assert stored_field(provstore_storage, "node", data.pk, "attributes") == {"value": 1}
        data.set_extra("tag", "ok")  # extras stay mutable
        data.label = "relabelled"
        assert stored_field(provstore_storage, "node", data.pk, "extras") == {"tag": "ok"}
        assert stored_field(provstore_storage, "node", data.pk, "label") == "relabelled"

    def test_seal(self, provstore_storage: StorageBackend) -> None:
        calc = provstore_storage.nodes.create(node_type=CALC)
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
        assert stored_field(provstore_storage, "node", calc.pk, "attributes") == {"state": "running", "sealed": True}
        calc.set_extra("note", "fine")
        data = provstore_storage.nodes.create(node_type=DATA).store()
        with pytest.raises(ValidationError, match="only stored process nodes"):
            data.seal()

    def test_mtime_follows_every_change(self, provstore_storage: StorageBackend) -> None:
        node = provstore_storage.nodes.create(node_type=WORK).store()
        ctime = stored_field(provstore_storage, "node", node.pk, "ctime")
        previous = stored_field(provstore_storage, "node", node.pk, "mtime")
        changes = [
            lambda: node.set_attribute("a", 1),
            lambda: node.set_extra("b", 2),
            lambda: setattr(node, "label", "n"),
        ]
        if self.has_repository:
            changes.append(lambda: node.put_object_from_bytes(b"x", "f.txt"))
        for change in changes:
            change()
            current = stored_field(provstore_storage, "node", node.pk, "mtime")
            assert current > previous
            previous = current
        assert stored_field(provstore_storage, "node", node.pk, "ctime") == ctime

    def test_group_extras(self, provstore_storage: StorageBackend) -> None:
        group = provstore_storage.groups.create(label="g", extras={"a": 1}).store()
        group.set_extra("b", [1])
        with pytest.raises(ValidationError, match=r"extras.c"):
            group.set_extra("c", {1, 2})
        assert stored_field(provstore_storage, "group", group.pk, "extras") == {"a": 1, "b": [1]}
        assert provstore_storage.groups.get(group.pk).get_extra("b") == [1]


@writes
class JsonValueTests(StorageTests):
    """JSON values read back with the same value *and type* on every backend, whichever path wrote them.

    Checks: edge floats (exponents, subnormals, the largest doubles, values whose repr is not exact) stay the
    same float, ``-0.0`` becomes ``0.0``; 64-bit integers stay exact ints; strings keep every character; nested
    random documents round-trip through ``store``, updates and ``bulk_insert``; NaN and infinity are refused on
    every path.
    """

    @pytest.mark.parametrize("value", [*EDGE_FLOATS, -0.0], ids=repr)
    def test_edge_floats_round_trip(self, provstore_storage: StorageBackend, value: float) -> None:
        expected = 0.0 if value == 0 else value
        node = provstore_storage.nodes.create(node_type=WORK, attributes=document(value), extras={"e": value}).store()
        assert_same_json(node.attributes, document(expected))  # the unstored value is already what is stored
        assert_same_json(stored_field(provstore_storage, "node", node.pk, "attributes"), document(expected))
        assert_same_json(stored_field(provstore_storage, "node", node.pk, "extras.e"), expected)
        group = provstore_storage.groups.create(label=f"g{uuid.uuid4()}", extras=document(value)).store()
        assert_same_json(stored_field(provstore_storage, "group", group.pk, "extras"), document(expected))

    @pytest.mark.parametrize("value", EDGE_INTEGERS, ids=repr)
    def test_edge_integers_stay_exact(self, provstore_storage: StorageBackend, value: int) -> None:
        node = provstore_storage.nodes.create(node_type=WORK, attributes=document(value)).store()
        assert_same_json(stored_field(provstore_storage, "node", node.pk, "attributes"), document(value))

    @pytest.mark.parametrize("value", EDGE_STRINGS, ids=repr)
    def test_strings_round_trip(self, provstore_storage: StorageBackend, value: str) -> None:
        node = provstore_storage.nodes.create(node_type=WORK, attributes={value or "empty": value}, label=value)
        node.store()
        assert stored_field(provstore_storage, "node", node.pk, "attributes") == {value or "empty": value}
        assert stored_field(provstore_storage, "node", node.pk, "label") == value

    def test_booleans_and_null_keep_their_type(self, provstore_storage: StorageBackend) -> None:
        values = {"t": True, "f": False, "n": None, "one": 1, "zero": 0, "list": [True, 1, None, 1.0]}
        node = provstore_storage.nodes.create(node_type=WORK, attributes=values).store()
        assert_same_json(stored_field(provstore_storage, "node", node.pk, "attributes"), values)

    @pytest.mark.parametrize("index", range(8))
    def test_random_documents_round_trip(self, provstore_storage: StorageBackend, index: int) -> None:
        """Random nested documents (fixed seeds) read back equal, through store, update and bulk_insert."""
        attributes, extras, updated = random_documents(3, seed=index)
        node = provstore_storage.nodes.create(node_type=WORK, attributes=attributes, extras=extras).store()
        assert_same_json(stored_field(provstore_storage, "node", node.pk, "attributes"), attributes)
        assert_same_json(stored_field(provstore_storage, "node", node.pk, "extras"), extras)
        node.reset_extras(updated)
        assert_same_json(stored_field(provstore_storage, "node", node.pk, "extras"), updated)
        user = node.user.pk
        (pk,) = provstore_storage.bulk_insert(
            EntityTypes.NODE, [{"node_type": WORK, "user_id": user, "attributes": updated}], allow_defaults=True
        )
        assert_same_json(stored_field(provstore_storage, "node", pk, "attributes"), updated)

    def test_floats_through_bulk_insert(self, provstore_storage: StorageBackend) -> None:
        """bulk_insert may have its own fast path (COPY, multi-row INSERT): it writes the same floats."""
        user = provstore_storage.users.create(email="floats@x").store().pk
        values = [*EDGE_FLOATS, -0.0]
        rows = [{"node_type": WORK, "user_id": user, "attributes": document(value)} for value in values]
        pks = provstore_storage.bulk_insert(EntityTypes.NODE, rows, allow_defaults=True)
        for pk, value in zip(pks, values, strict=True):
            expected = 0.0 if value == 0 else value
            assert_same_json(stored_field(provstore_storage, "node", pk, "attributes"), document(expected))

    @pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf], ids=repr)
    def test_nan_and_infinity_are_refused_everywhere(self, provstore_storage: StorageBackend, value: float) -> None:
        node = provstore_storage.nodes.create(node_type=WORK)
        with pytest.raises(ValidationError, match=r"attributes\.a\[0\]: .* is not allowed in JSON"):
            node.set_attribute("a", [value])
        user = provstore_storage.users.create(email="nan@x").store().pk
        row = {"node_type": WORK, "user_id": user, "attributes": {"a": value}}
        with pytest.raises(ValidationError):
            provstore_storage.bulk_insert(EntityTypes.NODE, [row], allow_defaults=True)
        assert provstore_storage.nodes.count() == 0
        with pytest.raises(ValidationError):
            provstore_storage.query().append("node", filters={"attributes.a": value}).count()
