"""Filters on columns and nested JSON values give the same answers on every SQL backend, and the oracle's."""

from __future__ import annotations

import datetime

import pytest
from provstore.exceptions import ValidationError
from query_dataset import SQL_INJECTION, UTC

# Each case: filters on nodes, and the node names that must match (checked by hand; the oracle must agree).
HAND_CHECKED = [
    # numbers compare with numbers only: the string "3" and the boolean true are not > 2
    ({"attributes.x": {">": 2}}, ["n0", "n5"]),
    ({"attributes.x": {">=": 1}}, ["n0", "n1", "n3", "n5"]),
    ({"attributes.x": {"<": 0}}, ["n7"]),
    ({"attributes.x": {">": "2"}}, ["n2"]),
    # == is type-exact: 1 == 1.0, but 1 != "1" and 1 != true
    ({"attributes.x": 1}, ["n3"]),
    ({"attributes.x": {"==": 3}}, ["n0"]),
    ({"attributes.x": "3"}, ["n2"]),
    ({"attributes.x": True}, ["n6"]),
    ({"attributes.b": 1}, ["n2"]),
    ({"attributes.b": True}, ["n0"]),
    ({"attributes.b": False}, ["n1"]),
    ({"attributes.b": "true"}, ["n3"]),
    ({"attributes.f": 1.0}, ["n1"]),
    ({"attributes.f": {">": 1e9}}, ["n7"]),
    # null versus missing
    ({"attributes.nul": None}, ["n0"]),
    ({"attributes.x": None}, ["n8"]),
    ({"attributes.nul": {"is_null": True}}, ["n0", "n1", "n3", "n4", "n5", "n6", "n7", "n8", "n9"]),
    ({"attributes.nul": {"is_null": False}}, ["n2"]),
    ({"attributes": {"has_key": "nul"}}, ["n0", "n2"]),
    ({"attributes.nested.a": None}, ["n3"]),
    ({"extras.score": None}, ["n6"]),
    ({"extras": {"has_key": "score"}}, ["n0", "n1", "n2", "n5", "n6", "n8"]),
    # != and !in are exact complements of == and in (missing values match them)
    ({"attributes.x": {"!=": 3}}, ["n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9"]),
    ({"attributes.x": {"in": [3, "3", None]}}, ["n0", "n2", "n8"]),
    ({"attributes.x": {"!in": [3, "3", None]}}, ["n1", "n3", "n4", "n5", "n6", "n7", "n9"]),
    # nested paths, list indexes, keys that look like indexes
    ({"attributes.nested.a.b.0": 1}, ["n0"]),
    ({"attributes.nested.a.b.2.c": "deep"}, ["n0"]),
    ({"attributes.nested.a.b.0": {">": 0}}, ["n0", "n1"]),
    ({"attributes.nested.a.b.0": "key zero"}, []),
    ({"attributes.nested.a.b": {"has_key": "0"}}, ["n6"]),
    ({"attributes.nested.a": {"has_key": "b"}}, ["n0", "n1", "n2", "n6"]),
    ({"attributes.nested": {"has_key": "b"}}, []),
    ({"attributes.matrix.1.0": 3}, ["n5"]),
    ({"attributes.items.1": {"==": {"k": 2}}}, ["n5"]),
    ({"attributes.items": {"==": [{"v": "a", "k": 1}, {"k": 2}]}}, ["n5"]),
    ({"attributes.items": {"==": [{"k": 2}, {"v": "a", "k": 1}]}}, []),
    ({"attributes.nested": {"==": {"a": {"b": [3]}}}}, ["n1"]),
    ({"attributes.nested": {"==": {"a": {"b": [3.0]}}}}, ["n1"]),
    # containment: objects by subset, lists by elements, recursively; a string is not a list
    ({"attributes.tags": {"contains": ["red"]}}, ["n0", "n7"]),
    ({"attributes.tags": {"contains": []}}, ["n0", "n1", "n3", "n7"]),
    ({"attributes.tags": {"contains": ["red", "blue"]}}, ["n0"]),
    ({"attributes": {"contains": {"nested": {"a": {"b": [{"c": "deep"}]}}}}}, ["n0"]),
    ({"attributes.nested": {"contains": {"a": {"b": [3]}}}}, ["n1"]),
    ({"attributes.nested.a.b": {"contains": [2, 1]}}, ["n0"]),
    ({"attributes.matrix": {"contains": [[1]]}}, ["n5"]),
    ({"attributes.matrix": {"contains": [1]}}, []),
    ({"attributes.items": {"contains": [{"k": 2}]}}, ["n5"]),
    ({"attributes.items.0": {"contains": {"v": "a"}}}, ["n5"]),
    ({"attributes": {"contains": {"x": 1}}}, ["n3"]),
    ({"attributes": {"contains": {"b": True}}}, ["n0"]),
    ({"extras": {"contains": {"score": 2}}}, ["n1"]),
    # strings: like/ilike on text columns and string values only, code point order
    ({"attributes.s": {"like": "1%"}}, ["n1"]),
    ({"attributes.s": {"ilike": "ab%"}}, ["n3", "n6"]),
    ({"attributes.s": {"like": "ab%"}}, ["n3"]),
    ({"attributes.x": {"like": "%"}}, ["n2"]),
    ({"attributes.s": {"<": "B"}}, ["n0", "n1", "n6", "n7"]),
    ({"attributes.s": {">": "Z"}}, ["n3", "n5"]),
    ({"label": {"like": "100\\%%"}}, ["n3"]),
    ({"label": {"like": "100%"}}, ["n3", "n4"]),
    ({"label": {"like": "100_\\_done"}}, ["n3", "n4"]),
    ({"label": {"like": "alpha"}}, ["n0"]),
    ({"label": {"ilike": "ALPHA"}}, ["n0", "n1"]),
    ({"label": {"ilike": "DéLTA"}}, ["n6"]),
    ({"label": {"ilike": "DÉLTA"}}, []),
    ({"label": {">=": "e"}}, ["n5", "n7", "n8", "n9"]),
    ({"attributes.u": "ünïcødé ☃"}, ["n0"]),
    ({"attributes.u": {"ilike": "unicode"}}, ["n1"]),
    # SQL-looking strings are plain values
    ({"attributes.sql": SQL_INJECTION}, ["n0"]),
    ({"label": SQL_INJECTION}, []),
    ({"label": {"in": [SQL_INJECTION, "beta"]}}, ["n2"]),
    ({"attributes.sql": {"like": "'; DROP%"}}, ["n0"]),
    # columns: of_type, null columns, in, datetimes
    ({"node_type": {"of_type": "data"}}, ["n0", "n1", "n2", "n3", "n9"]),
    ({"node_type": {"of_type": "data.core.int."}}, ["n0", "n1", "n9"]),
    ({"node_type": {"of_type": "process"}}, ["n4", "n5", "n6", "n7"]),
    ({"node_type": {"like": "data%"}}, ["n0", "n1", "n2", "n3", "n8", "n9"]),
    ({"process_type": None}, ["n0", "n1", "n2", "n3", "n6", "n7", "n8", "n9"]),
    ({"process_type": {"is_null": False}}, ["n4", "n5"]),
    ({"process_type": {"!=": "aiida.calculations:x"}}, ["n0", "n1", "n2", "n3", "n6", "n7", "n8", "n9"]),
    ({"label": {"in": ["alpha", "beta", "nope"]}}, ["n0", "n2"]),
    ({"label": {"in": []}}, []),
    ({"label": {"!in": []}}, ["n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9"]),
    ({"ctime": {"<": datetime.datetime(2024, 1, 3, tzinfo=UTC)}}, ["n0", "n1"]),
    (
        {"ctime": {">=": datetime.datetime(2024, 1, 9, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))}},
        ["n8", "n9"],
    ),
    (
        {"ctime": {"in": [datetime.datetime(2024, 1, 1, tzinfo=UTC), datetime.datetime(2024, 1, 3, tzinfo=UTC)]}},
        ["n0", "n2"],
    ),
    ({"uuid": {"in": ["00000000-0000-0000-0000-000000000001", "nope"]}}, ["n1"]),
    ({"id": {">": 0}}, ["n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9"]),
    # combinations
    ({"or": [{"attributes.x": 3}, {"label": "beta"}]}, ["n0", "n2"]),
    ({"and": [{"attributes.x": {">": 0}}, {"attributes.x": {"<": 5}}]}, ["n0", "n1", "n3"]),
    ({"not": {"attributes.x": {">": 0}}}, ["n2", "n4", "n6", "n7", "n8", "n9"]),
    ({"not": {"attributes.tags": {"contains": ["red"]}}, "node_type": {"of_type": "data"}}, ["n1", "n2", "n3", "n9"]),
    ({"attributes.x": {">": 0, "<": 5}}, ["n0", "n1", "n3"]),
    ({"or": []}, []),
    ({"and": []}, ["n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9"]),
]


def test_filters_match_hand_checked_answers_and_oracle(storage, data):
    """Every hand-checked case gives the listed nodes on this backend, and the oracle agrees."""
    wrong = []
    for filters, expected in HAND_CHECKED:
        got = data.select(storage, filters)
        oracle = data.expected(filters)
        if got != sorted(expected) or oracle != sorted(expected):
            wrong.append(f"{filters}: got {got}, oracle {oracle}, expected {sorted(expected)}")
    assert not wrong, "\n".join(wrong)


def _generated_cases():
    """Yield every operator on every path of the data set with a spread of operands (answers from the oracle)."""
    paths = [
        "attributes.x",
        "attributes.s",
        "attributes.f",
        "attributes.b",
        "attributes.nul",
        "attributes.tags",
        "attributes.nested.a",
        "attributes.nested.a.b",
        "attributes.nested.a.b.1",
        "extras.score",
        "extras.note",
    ]
    scalars = [0, 1, 2, 2.5, 3, -5, 10, "3", "10", "red", "", "abc", True, False, None]
    for path in paths:
        for value in scalars:
            yield {path: {"==": value}}
            yield {path: {"!=": value}}
            if value is not None and not isinstance(value, bool):
                for op in ("<", "<=", ">", ">="):
                    yield {path: {op: value}}
        yield {path: {"in": scalars}}
        yield {path: {"!in": [1, "red"]}}
        yield {path: {"is_null": True}}
        yield {path: {"like": "%e%"}}
        yield {path: {"ilike": "A%"}}
        for key in ("a", "b", "nul", "0", "c"):
            yield {path: {"has_key": key}}
        for operand in ([], ["red"], [1], [[1]], [{"c": "deep"}], {}, {"b": [3]}, {"a": None}):
            yield {path: {"contains": operand}}
            yield {"not": {path: {"contains": operand}}}


def test_generated_filters_match_oracle(storage, data):
    """Hundreds of operator/path/operand combinations agree with the Python oracle on this backend."""
    wrong = []
    cases = list(_generated_cases())
    for filters in cases:
        got, oracle = data.select(storage, filters), data.expected(filters)
        if got != oracle:
            wrong.append(f"{filters}: got {got}, oracle {oracle}")
    assert len(cases) > 500
    assert not wrong, f"{len(wrong)} mismatches:\n" + "\n".join(wrong[:40])


INVALID = [
    ({"nosuch": 1}, "unknown field 'nosuch' of node; valid fields: id, uuid, node_type"),
    ({"label": {"~": "x"}}, "unknown operator '~' on 'label'; valid operators: ==, !=, <"),
    ({"attributes.x": {"regex": "x"}}, "valid operators"),
    ({f"attributes.{SQL_INJECTION}": 1}, "invalid path segment"),
    ({"attributes.a..b": 1}, "invalid path segment"),
    ({"attributes": {"has_key": SQL_INJECTION}}, "invalid key"),
    ({"attributes": {"contains": {SQL_INJECTION: 1}}}, "invalid key"),
    ({"attributes": {"==": {"ok": {"bad key": 1}}}}, "invalid key"),
    ({"label.x": 1}, "is not JSON"),
    ({"label": {"contains": ["a"]}}, "needs a JSON field"),
    ({"label": {"has_key": "a"}}, "needs a JSON field"),
    ({"id": "1"}, "expected int"),
    ({"id": True}, "expected int"),
    ({"label": 3}, "expected str"),
    ({"ctime": {"<": "2024-01-01"}}, "expected datetime"),
    ({"attributes.x": {"<": True}}, "compares with a number or a string"),
    ({"attributes.x": {"<": None}}, "compares with a number or a string"),
    ({"attributes.x": {"contains": 1}}, "takes a dict or a list"),
    ({"attributes.x": {"in": 3}}, "takes a list"),
    ({"attributes.x": {"in": [[1]]}}, "JSON scalars"),
    ({"attributes.x": {"is_null": "yes"}}, "takes true or false"),
    ({"attributes.x": 2**64}, "64 bits"),
    ({"attributes.x": float("nan")}, "not a JSON number"),
    ({"attributes.x": "a\x00b"}, "NUL"),
    ({"attributes.x": {"like": "abc\\"}}, "unfinished escape"),
    ({"attributes.x": {"of_type": "data"}}, "needs a text field"),
    ({"id": {"like": "1%"}}, "needs a text field"),
    ({"label": {}}, "no operator given"),
    ({"or": {"label": "x"}}, "takes a list"),
    ([("label", "x")], "must be a dict"),
]


def test_invalid_filters_raise_one_clear_error(storage):
    """Unknown names, invalid keys and wrongly typed values raise one-line ValidationErrors naming the valid choices."""
    for filters, message in INVALID:
        with pytest.raises(ValidationError) as info:
            storage.query().append("node", filters=filters).all()
        assert message in str(info.value), filters
        assert "\n" not in str(info.value)


def test_sql_looking_values_leave_the_database_intact(storage, data):
    """Values that look like SQL are compared as data; the tables and rows are all still there afterwards."""
    for field in ("label", "description", "uuid", "attributes.sql", "extras.note"):
        storage.query().append("node", filters={field: {"in": [SQL_INJECTION]}}).count()
        storage.query().append("node", filters={field: {"like": SQL_INJECTION}}).count()
    users = storage.query().append("user", filters={"institution": SQL_INJECTION}, project="email").all(flat=True)
    assert users == ["bob@example.org"]
    assert storage.query().append("node").count() == 10
    assert storage.query().append("comment", filters={"content": SQL_INJECTION}).count() == 1
