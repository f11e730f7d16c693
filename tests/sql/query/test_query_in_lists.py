"""``in``/``!in`` with long lists: one parameter, linear time, exact JSON types, and no raw database error."""

from __future__ import annotations

import datetime
import time

import pytest
from provstore.exceptions import QueryError
from provstore.storage import EntityTypes
from provstore.testing.dataset import MISSING, json_equal, resolve
from sqlalchemy import text

VALUES = [0, 1, 1.0, 2, -1, 2.5, 2**60, 2.0**60, 2**60 + 1, "1", "a", "", "é", True, False, None]
"""The values stored at ``attributes.x`` (one node each), plus nodes where ``x`` is missing, a list or an object."""


def _insert(storage, documents):
    user = storage.bulk_insert(EntityTypes.USER, [{"email": "in@example.org"}], allow_defaults=True)[0]
    rows = [
        {"node_type": "data.in.", "label": f"n{i}", "user_id": user, "attributes": doc, "extras": {}}
        for i, doc in enumerate(documents)
    ]
    pks = storage.bulk_insert(EntityTypes.NODE, rows, allow_defaults=True)
    return dict(zip(pks, documents, strict=True))


def _documents():
    return [{"x": value} for value in VALUES] + [{}, {"x": [1]}, {"x": {"a": 1}}, {"y": 1}, None]


def _expected(documents, values, negated):
    found = {}
    for pk, doc in documents.items():
        value = MISSING if doc is None else resolve(doc, "x")
        hit = value is not MISSING and any(json_equal(value, item) for item in values)
        found[pk] = hit != negated
    return sorted(pk for pk, hit in found.items() if hit)


def _select(storage, filters):
    return sorted(storage.query().append("node", filters=filters, project="id").all(flat=True))


def test_the_issue_case_runs_and_answers(storage):
    """1,000 strings on a JSON path (a raw 'Expression tree is too large' on SQLite before) find their nodes."""
    documents = _insert(storage, [{"x": f"v{i}"} for i in range(0, 2000, 2)] + [{"x": 4}])
    values = [f"v{i}" for i in range(1000)]
    rows = storage.query().append("node", filters={"attributes.x": {"in": values}}).all()
    assert len(rows) == 500
    assert _select(storage, {"attributes.x": {"in": values}}) == _expected(documents, values, False)
    assert _select(storage, {"attributes.x": {"!in": values}}) == _expected(documents, values, True)


@pytest.mark.parametrize("size", [1, 5, 200, 5000])
def test_in_lists_of_mixed_types_follow_json_equality(storage, size):
    """Numbers match numbers by value (1 == 1.0, 2**60 == 2.0**60 != 2**60 + 1), never strings or booleans; None
    matches a present null; missing values, lists and objects match only !in; short and long lists alike."""
    documents = _insert(storage, _documents())
    for chosen in ([1], [1.0], ["1"], [True], [False], [None], [0, ""], [2**60], [2.0**60 + 2**9], [2**60 + 1]):
        values = [*chosen, *(f"filler{i}" for i in range(size - 1))]
        for negated in (False, True):
            filters = {"attributes.x": {"!in" if negated else "in": values}}
            assert _select(storage, filters) == _expected(documents, values, negated), (chosen, negated)
    every = [*VALUES, *range(100, 100 + size)]
    assert _select(storage, {"attributes.x": {"in": every}}) == _expected(documents, every, False)
    assert _select(storage, {"attributes.x": {"!in": every}}) == _expected(documents, every, True)


def test_in_on_columns_of_every_type(storage):
    """Long lists work on integer, text, timestamp and boolean columns, alone and with other conditions."""
    documents = _insert(storage, _documents())
    pks = sorted(documents)
    labels = [f"n{i}" for i in range(0, len(pks), 3)]
    assert len(_select(storage, {"label": {"in": [*labels, *(f"x{i}" for i in range(5000))]}})) == len(labels)
    assert _select(storage, {"id": {"in": [*pks[:3], *range(10**6, 10**6 + 5000)]}}) == pks[:3]
    assert _select(storage, {"id": {"!in": pks[:3]}, "label": {"in": ["n0", "n4"]}}) == [pks[4]]
    ctimes = storage.query().append("node", project="ctime").order_by({"node": "id"}).all(flat=True)
    listed = [ctimes[1], *(ctimes[1] + datetime.timedelta(days=1, microseconds=i) for i in range(5000))]
    assert _select(storage, {"ctime": {"in": listed}}) == [
        pk for pk, ctime in zip(pks, ctimes, strict=True) if ctime == ctimes[1]
    ]
    assert storage.query().append("authinfo", filters={"enabled": {"in": [True]}}).count() == 0


def test_in_lists_of_strings_with_quotes_and_separators(storage):
    """Strings holding quotes, backslashes, commas, braces, spaces or the word NULL are matched exactly."""
    labels = ['a"b', "a\\b", "{x,y}", " padded ", "NULL", "'; --", "é,ü", ""]
    user = storage.bulk_insert(EntityTypes.USER, [{"email": "q@example.org"}], allow_defaults=True)[0]
    rows = [{"node_type": "data.q.", "label": label, "user_id": user, "extras": {"l": label}} for label in labels]
    pks = dict(zip(labels, storage.bulk_insert(EntityTypes.NODE, rows, allow_defaults=True), strict=True))
    for chosen in (labels, labels[:1], labels[1:2], labels[2:5], ["null", "a\\\\b", "x,y", "padded"]):
        for field in ("label", "extras.l"):
            long = [*chosen, *(f"z{i}" for i in range(300))]
            for values in (chosen, long):
                expected = sorted(pks[label] for label in chosen if label in pks)
                assert _select(storage, {field: {"in": values}}) == expected, (field, chosen)


def test_an_in_list_is_one_parameter(storage):
    """100,000 values are one bound parameter (a JSON list or an array): as many as 200 values, whatever the field."""

    def parameters(field, values):
        statement, _ = storage.query().append("node", filters={field: {"in": values}})._statement()
        return len(statement.compile().params)

    for field in ("attributes.x", "attributes.x.0", "extras", "label", "id", "ctime"):
        if field == "id":
            few, many = list(range(200)), list(range(100_000))
        elif field == "ctime":
            start = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
            few, many = [start] * 200, [start + datetime.timedelta(seconds=i) for i in range(100_000)]
        else:
            few, many = [f"v{i}" for i in range(200)], [f"v{i}" for i in range(100_000)]
        assert parameters(field, many) == parameters(field, few) < 30, field


def test_database_errors_reach_the_user_as_one_provstore_line(storage):
    """A valid query the database refuses raises QueryError with one line, the database error as its cause."""
    _insert(storage, _documents())
    if storage.dialect_name == "sqlite":  # a LIKE pattern longer than SQLite accepts (50,000 bytes)
        query = storage.query().append("node", filters={"label": {"like": "%" + "x" * 60_000}})
        with pytest.raises(QueryError) as info:
            query.count()
    else:
        with storage.transaction() as session:
            session.execute(text("SET LOCAL statement_timeout = 1"))
            query = storage.query().append("node", filters={"attributes.x": {"!in": list(range(300_000))}})
            with pytest.raises(QueryError) as info:
                query.all()
    assert "could not run the query" in str(info.value) and "\n" not in str(info.value)
    assert info.value.__cause__ is not None


@pytest.mark.perf
def test_100k_values_take_well_under_a_second(storage):
    """in and !in with 100,000 values on a JSON path and on columns, over 2,000 nodes, stay linear (bound: 3 s)."""
    documents = _insert(storage, [{"x": f"v{i}", "n": i} for i in range(2000)])
    strings = [f"v{i}" for i in range(0, 200_000, 2)]
    numbers = list(range(1, 200_000, 2))
    cases = [
        ({"attributes.x": {"in": strings}}, 1000),
        ({"attributes.x": {"!in": strings}}, 1000),
        ({"attributes.n": {"in": numbers}}, 1000),
        ({"label": {"in": [f"n{i}" for i in range(100_000)]}}, 2000),
        ({"id": {"!in": list(range(10**6, 10**6 + 100_000))}}, 2000),
    ]
    for filters, expected in cases:
        start = time.perf_counter()
        found = storage.query().append("node", filters=filters, project="id").count()
        elapsed = time.perf_counter() - start
        field, (op, _) = next(iter(filters.items())), next(iter(next(iter(filters.values())).items()))
        print(f"{storage.dialect_name}: {field[0]} {op} 100,000 values over {len(documents)} nodes: {elapsed:.3f} s")
        assert found == expected
        assert elapsed < 3.0, f"{filters.keys()} took {elapsed:.1f} s"
