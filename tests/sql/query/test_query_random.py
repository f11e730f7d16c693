"""Random JSON documents and random filters (fixed seed): every backend agrees with the Python oracle."""

from __future__ import annotations

import random

import pytest
from provstore.storage import EntityTypes
from query_dataset import Dataset, matches

KEYS = ["a", "b", "c", "0"]
SCALARS = [0, 1, 1.0, 2, -1, 2.5, "1", "a", "A", "b", "", "é", True, False, None]


def _value(rng: random.Random, depth: int):
    roll = rng.random()
    if depth >= 3 or roll < 0.5:
        return rng.choice(SCALARS)
    if roll < 0.75:
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {key: _value(rng, depth + 1) for key in rng.sample(KEYS, rng.randint(0, 3))}


def _paths(document, prefix=()):
    """Yield every path of ``document`` (keys that look like indexes are not addressable and are skipped)."""
    yield prefix
    if isinstance(document, dict):
        for key, value in document.items():
            if not key.isdigit():
                yield from _paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield from _paths(value, (*prefix, str(index)))


def _filters(rng: random.Random, documents: list, count: int) -> list[dict]:
    paths = sorted({path for document in documents for path in _paths(document)})
    result = []
    for _ in range(count):
        path = rng.choice(paths)
        field = ".".join(("attributes", *path))
        op = rng.choice(["==", "!=", "<", ">=", "in", "has_key", "contains", "is_null", "like", "not-contains"])
        if op in ("==", "!="):
            operand = rng.choice([*SCALARS, _value(rng, 1)])
        elif op in ("<", ">="):
            operand = rng.choice([value for value in SCALARS if not isinstance(value, bool) and value is not None])
        elif op == "in":
            operand = rng.sample(SCALARS, 3)
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


@pytest.mark.slow
def test_random_documents_and_filters_match_the_oracle(storage):
    """300 random documents, 600 random filters: the backend's answers equal the oracle's."""
    rng = random.Random(20240611)
    documents = [{key: _value(rng, 1) for key in rng.sample(KEYS, rng.randint(0, 4))} for _ in range(300)]
    user = storage.bulk_insert(EntityTypes.USER, [{"email": "random@example.org"}], allow_defaults=True)[0]
    rows = [{"node_type": "data.random.", "user_id": user, "attributes": document} for document in documents]
    pks = storage.bulk_insert(EntityTypes.NODE, rows, allow_defaults=True)
    data = Dataset(nodes={str(pk): pk for pk in pks})
    data.node_rows = {pk: {"attributes": document, "extras": {}} for pk, document in zip(pks, documents, strict=True)}
    wrong = []
    filters_list = _filters(rng, documents, 600)
    for filters in filters_list:
        got = sorted(storage.query().append("node", filters=filters, project="id").all(flat=True))
        expected = sorted(pk for pk, row in data.node_rows.items() if matches(row, filters))
        if got != expected:
            wrong.append(f"{filters}: {len(got)} rows, oracle {len(expected)}")
    matched = sum(1 for filters in filters_list if any(matches(row, filters) for row in data.node_rows.values()))
    assert matched > 200  # the random filters are not all trivially empty
    assert not wrong, f"{len(wrong)} mismatches:\n" + "\n".join(wrong[:30])
