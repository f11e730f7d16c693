"""The filter language on the kit's data set: every operator, negation, JSON type rules, paths and combinations."""

from __future__ import annotations

import datetime
import random
from typing import Any

import pytest

from provstore.exceptions import ValidationError
from provstore.storage import EntityTypes, StorageBackend
from provstore.testing.dataset import SQL_INJECTION, UTC, Dataset, matches
from provstore.testing.storage.base import StorageTests, writes

__all__ = ["QueryFilterTests", "RandomFilterTests"]

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

GENERATED_PATHS = [
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
SCALARS: list[Any] = [0, 1, 2, 2.5, 3, -5, 10, "3", "10", "red", "", "abc", True, False, None]


def generated_cases(path: str) -> list[dict[str, Any]]:
    """Return every operator on ``path`` with a spread of operands (the answers come from the oracle)."""
    cases: list[dict[str, Any]] = []
    for value in SCALARS:
        cases.append({path: {"==": value}})
        cases.append({path: {"!=": value}})
        if value is not None and not isinstance(value, bool):
            cases.extend({path: {op: value}} for op in ("<", "<=", ">", ">="))
    cases.append({path: {"in": SCALARS}})
    cases.append({path: {"!in": [1, "red"]}})
    cases.append({path: {"is_null": True}})
    cases.append({path: {"is_null": False}})
    cases.append({path: {"like": "%e%"}})
    cases.append({path: {"ilike": "A%"}})
    cases.extend({path: {"has_key": key}} for key in ("a", "b", "nul", "0", "c"))
    for operand in ([], ["red"], [1], [[1]], [{"c": "deep"}], {}, {"b": [3]}, {"a": None}):
        cases.append({path: {"contains": operand}})
        cases.append({"not": {path: {"contains": operand}}})
    return cases


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


def _case_id(filters: Any) -> str:
    text = repr(filters)
    return text if len(text) <= 60 else text[:57] + "..."


class QueryFilterTests(StorageTests):
    """Filters give exactly the documented answers (``docs/querying.md``) on the kit's data set.

    Checks: each hand-checked case of every operator (``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, ``in``,
    ``!in``, ``like``, ``ilike``, ``has_key``, ``contains``, ``is_null``, ``of_type``; ``and``/``or``/``not``)
    on columns and JSON paths returns the listed nodes: JSON values compare by JSON type (numbers with numbers,
    strings by code point, ``1 == 1.0`` but ``1 != "1"`` and ``true != 1``), null differs from missing, negation
    is the exact complement, list indexes and keys that look like indexes are told apart, SQL-looking strings
    are data; hundreds of generated operator/path/operand combinations agree with the Python oracle; invalid
    filters raise one-line ``ValidationError`` naming what is valid.
    """

    @pytest.mark.parametrize(("filters", "expected"), HAND_CHECKED, ids=[_case_id(case) for case, _ in HAND_CHECKED])
    def test_hand_checked_filter(
        self,
        provstore_dataset_storage: StorageBackend,
        provstore_dataset: Dataset,
        filters: dict[str, Any],
        expected: list[str],
    ) -> None:
        assert provstore_dataset.expected(filters) == sorted(expected), "the oracle disagrees with the hand check"
        assert provstore_dataset.select(provstore_dataset_storage, filters) == sorted(expected)

    @pytest.mark.parametrize("path", GENERATED_PATHS)
    def test_generated_filters_match_the_oracle(
        self, provstore_dataset_storage: StorageBackend, provstore_dataset: Dataset, path: str
    ) -> None:
        wrong = []
        for filters in generated_cases(path):
            got = provstore_dataset.select(provstore_dataset_storage, filters)
            oracle = provstore_dataset.expected(filters)
            if got != oracle:
                wrong.append(f"{filters}: got {got}, oracle {oracle}")
        assert not wrong, f"{len(wrong)} mismatches:\n" + "\n".join(wrong[:40])

    @pytest.mark.parametrize(("filters", "message"), INVALID, ids=[_case_id(case) for case, _ in INVALID])
    def test_invalid_filter_is_one_clear_error(
        self, provstore_dataset_storage: StorageBackend, filters: Any, message: str
    ) -> None:
        with pytest.raises(ValidationError) as info:
            provstore_dataset_storage.query().append("node", filters=filters).all()
        assert message in str(info.value)
        assert "\n" not in str(info.value)

    def test_sql_looking_values_leave_the_store_intact(self, provstore_dataset_storage: StorageBackend) -> None:
        storage = provstore_dataset_storage
        for field in ("label", "description", "uuid", "attributes.sql", "extras.note"):
            storage.query().append("node", filters={field: {"in": [SQL_INJECTION]}}).count()
            storage.query().append("node", filters={field: {"like": SQL_INJECTION}}).count()
        users = storage.query().append("user", filters={"institution": SQL_INJECTION}, project="email").all(flat=True)
        assert users == ["bob@example.org"]
        assert storage.query().append("node").count() == 10
        assert storage.query().append("comment", filters={"content": SQL_INJECTION}).count() == 1

    @pytest.mark.parametrize("entity", ["user", "computer", "group", "comment", "log", "authinfo"])
    def test_filters_on_every_entity(self, provstore_dataset_storage: StorageBackend, entity: str) -> None:
        """Column filters work on every entity, with the same operators and negation."""
        field, value, count = {
            "user": ("email", "ada@example.org", 1),
            "computer": ("label", "daint", 1),
            "group": ("label", "g1", 1),
            "comment": ("content", "fixed", 1),
            "log": ("levelname", "ERROR", 1),
            "authinfo": ("enabled", True, 1),
        }[entity]
        total = provstore_dataset_storage.query().append(entity).count()
        assert provstore_dataset_storage.query().append(entity, filters={field: value}).count() == count
        assert provstore_dataset_storage.query().append(entity, filters={field: {"!=": value}}).count() == total - count
        negated = provstore_dataset_storage.query().append(entity, filters={"not": {field: value}}).count()
        assert negated == total - count


KEYS = ["a", "b", "c", "0"]
RANDOM_SCALARS: list[Any] = [0, 1, 1.0, 2, -1, 2.5, "1", "a", "A", "b", "", "é", True, False, None]


def _value(rng: random.Random, depth: int) -> Any:
    roll = rng.random()
    if depth >= 3 or roll < 0.5:
        return rng.choice(RANDOM_SCALARS)
    if roll < 0.75:
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {key: _value(rng, depth + 1) for key in rng.sample(KEYS, rng.randint(0, 3))}


def _paths(document: Any, prefix: tuple[str, ...] = ()) -> Any:
    """Yield every path of ``document`` (keys that look like indexes are not addressable and are skipped)."""
    yield prefix
    if isinstance(document, dict):
        for key, value in document.items():
            if not key.isdigit():
                yield from _paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield from _paths(value, (*prefix, str(index)))


def _random_filters(rng: random.Random, documents: list[Any], count: int) -> list[dict[str, Any]]:
    paths = sorted({path for document in documents for path in _paths(document)})
    result: list[dict[str, Any]] = []
    for _ in range(count):
        field = ".".join(("attributes", *rng.choice(paths)))
        op = rng.choice(["==", "!=", "<", ">=", "in", "has_key", "contains", "is_null", "like", "not-contains"])
        operand: Any
        if op in ("==", "!="):
            operand = rng.choice([*RANDOM_SCALARS, _value(rng, 1)])
        elif op in ("<", ">="):
            operand = rng.choice(
                [value for value in RANDOM_SCALARS if not isinstance(value, bool) and value is not None]
            )
        elif op == "in":
            operand = rng.sample(RANDOM_SCALARS, 3)
        elif op == "has_key":
            operand = rng.choice(KEYS)
        elif op == "is_null":
            operand = rng.choice([True, False])
        elif op == "like":
            operand = rng.choice(["%", "a%", "_", "%A", ""])
        else:
            operand = rng.choice([[], {}]) if rng.random() < 0.2 else _value(rng, 2)
            operand = operand if isinstance(operand, (list, dict)) else [operand]
        if op == "not-contains":
            result.append({"not": {field: {"contains": operand}}})
        else:
            result.append({field: {op: operand}})
    return result


@writes
class RandomFilterTests(StorageTests):
    """Random JSON documents and random filters (fixed seeds): the backend's answers equal the oracle's."""

    @pytest.mark.parametrize("seed", [20240611, 7, 1999])
    def test_random_documents_and_filters_match_the_oracle(self, provstore_storage: StorageBackend, seed: int) -> None:
        storage = provstore_storage
        rng = random.Random(seed)
        documents = [{key: _value(rng, 1) for key in rng.sample(KEYS, rng.randint(0, 4))} for _ in range(150)]
        user = storage.bulk_insert(EntityTypes.USER, [{"email": "random@example.org"}], allow_defaults=True)[0]
        rows = [{"node_type": "data.random.", "user_id": user, "attributes": document} for document in documents]
        pks = storage.bulk_insert(EntityTypes.NODE, rows, allow_defaults=True)
        node_rows = {pk: {"attributes": document, "extras": {}} for pk, document in zip(pks, documents, strict=True)}
        wrong = []
        filters_list = _random_filters(rng, documents, 300)
        for filters in filters_list:
            got = sorted(storage.query().append("node", filters=filters, project="id").all(flat=True))
            expected = sorted(pk for pk, row in node_rows.items() if matches(row, filters))
            if got != expected:
                wrong.append(f"{filters}: {len(got)} rows, oracle {len(expected)}")
        matched = sum(1 for filters in filters_list if any(matches(row, filters) for row in node_rows.values()))
        assert matched > 100  # the random filters are not all trivially empty
        assert not wrong, f"{len(wrong)} mismatches:\n" + "\n".join(wrong[:30])
