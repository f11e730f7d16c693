"""Filters on float attributes give Python's answers (exact int/float comparison) on every SQL backend."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from provstore.storage import EntityTypes

WORK = "process.workflow.work."

STORED = [
    5.3e16,
    -5.3e16,
    53000000000000000,
    1e16,
    10**16,
    10**16 + 1,
    9999999999999998.0,
    2.0**60,  # written 1.152921504606847e+18, but exactly 1152921504606846976
    2**60,
    2**60 + 1,
    2**60 - 1,
    1152921504606847000,  # the decimal digits of repr(2.0 ** 60): a different number
    2.0**63,
    2**63 - 1,
    -(2**63),
    -(2.0**63),
    1e23,
    1.7976931348623157e308,
    -1.7976931348623157e308,
    5e-324,
    -5e-324,
    1e-7,
    0.1,
    0.0,
    -0.0,
    0,
    1,
    1.0,
    -1.5,
    "5.3e16",
    "53000000000000000",
    True,
]
"""Values of ``attributes.x``, one node each (plus one node without ``x``)."""

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
FLOATS = st.floats(allow_nan=False, allow_infinity=False)


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


OPERANDS = st.sampled_from([value for value in STORED if is_number(value)]) | FLOATS | INT64


@pytest.fixture
def stored(storage) -> dict[int, object]:
    """Store one node per value of STORED (and one without ``x``); return pk -> value (MISSING for the last)."""
    user_id = storage.default_user.pk
    rows = [
        {"uuid": str(uuid.uuid4()), "node_type": WORK, "user_id": user_id, "attributes": {"x": value, "l": [value]}}
        for value in STORED[: len(STORED) // 2]
    ]
    pks = storage.bulk_insert(EntityTypes.NODE, rows, allow_defaults=True)  # half through the bulk path
    for value in STORED[len(STORED) // 2 :]:  # half through the entity API
        pks.append(storage.nodes.create(node_type=WORK, attributes={"x": value, "l": [value]}).store().pk)
    missing = storage.nodes.create(node_type=WORK, attributes={"other": 1.5}).store().pk
    return {**dict(zip(pks, STORED, strict=True)), missing: MISSING}


MISSING = object()


def matching(storage, filters) -> set[int]:
    return set(storage.query().append("node", filters=filters, project="id").all(flat=True))


def expected(stored, test) -> set[int]:
    return {pk for pk, value in stored.items() if is_number(value) and test(value)}


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operand=OPERANDS)
@example(operand=5.3e16)
@example(operand=53000000000000000)
@example(operand=2**60)
@example(operand=2.0**60)
@example(operand=1152921504606847000)
@example(operand=-0.0)
@example(operand=2**63 - 1)
@example(operand=1e23)
def test_comparisons_are_exact(storage, stored, operand):
    """==, !=, <, <=, >, >= on floats and ints agree with Python, whose int/float comparisons are exact."""
    everything = set(stored)
    equal = expected(stored, lambda value: value == operand)
    assert matching(storage, {"attributes.x": operand}) == equal
    assert matching(storage, {"attributes.x": {"!=": operand}}) == everything - equal
    assert matching(storage, {"attributes.l.0": operand}) == equal
    assert matching(storage, {"attributes.x": {"<": operand}}) == expected(stored, lambda value: value < operand)
    assert matching(storage, {"attributes.x": {"<=": operand}}) == expected(stored, lambda value: value <= operand)
    assert matching(storage, {"attributes.x": {">": operand}}) == expected(stored, lambda value: value > operand)
    assert matching(storage, {"attributes.x": {">=": operand}}) == expected(stored, lambda value: value >= operand)
    assert matching(storage, {"attributes": {"contains": {"x": operand}}}) == equal
    assert matching(storage, {"attributes.l": {"contains": [operand]}}) == equal


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operands=st.lists(OPERANDS, min_size=1, max_size=5))
@example(operands=[5.3e16, 2**60, -0.0])
@example(operands=[1152921504606847000, 1e16])
def test_in_is_exact(storage, stored, operands):
    members = expected(stored, lambda value: any(value == operand for operand in operands))
    assert matching(storage, {"attributes.x": {"in": operands}}) == members
    assert matching(storage, {"attributes.x": {"!in": operands}}) == set(stored) - members


def test_order_by_follows_the_numeric_values(storage, stored):
    """Numbers sort by exact value, before the strings and the boolean; floats keep their type."""
    values = storage.query().append("node", project="attributes.x").order_by({"node": "attributes.x"}).all(flat=True)
    numbers = sorted(value for value in STORED if is_number(value))
    assert values[: len(numbers)] == numbers  # equal values (5.3e16 and its int) may come in either order
    assert values[len(numbers) :] == ["5.3e16", "53000000000000000", True, None]
    assert sorted(type(value).__name__ for value in values if value == 5.3e16) == ["float", "int"]
