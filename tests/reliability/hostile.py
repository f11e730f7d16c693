"""Generators of hostile and malformed input (hypothesis strategies and fixed lists) for the reliability tests."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import strategies as st
from provstore.storage.json_values import MAX_DEPTH

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
"""Any JSON document (what a hand-edited configuration file may hold)."""


def _nested(depth: int) -> Any:
    value: Any = 1
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


UNSTORABLE_LEAVES: list[Any] = [
    math.nan,
    math.inf,
    -math.inf,
    b"bytes",
    bytearray(b"x"),
    {1, 2},
    frozenset({"a"}),
    1 + 2j,
    object(),
    2**63,
    -(2**63) - 1,
    "NUL \x00 inside",
    "lone surrogate \udc80",
    {1: "int key"},
    {("a", "b"): "tuple key"},
    {None: "None key"},
    {"dotted.key": 1},
    {"": "empty key"},
    {"nul\x00key": 1},
    _nested(MAX_DEPTH + 1),
]
"""Values a JSON field must refuse (each names its own rule in json_values)."""

unstorable_values = st.recursive(
    st.sampled_from(UNSTORABLE_LEAVES),
    lambda children: (
        st.builds(lambda good, bad: [*good, bad], st.lists(json_scalars, max_size=3), children)
        | st.builds(
            lambda good, bad: {**good, "bad": bad},
            st.dictionaries(st.from_regex(r"[a-z]{1,5}", fullmatch=True), json_scalars, max_size=3),
            children,
        )
    ),
    max_leaves=4,
)
"""An unstorable value, possibly buried inside otherwise valid lists and dicts."""

SQL_LOOKALIKES = [
    "x' OR '1'='1",
    "'; DROP TABLE db_dbnode; --",
    '"; DELETE FROM db_dbnode; --',
    "1; UPDATE db_dbnode SET label = 'pwned'",
    "%' OR 1=1 --",
    "\\'; SELECT pg_sleep(10); --",
    "label) OR (1=1",
    "1 UNION SELECT password FROM pg_shadow",
]
"""Text that would change a statement if it were ever pasted into SQL."""

HOSTILE_PATHS = [
    "../escape.txt",
    "a/../../escape.txt",
    "/etc/passwd",
    "//server/share",
    "a\x00b",
    "",
    ".",
    "..",
    "a//b",
    "a/./b",
    "a\\..\\b",
    "line\nbreak",
]
"""File paths inside a node that must be refused (escape, absolute, NUL, empty or dot parts)."""

HOSTILE_KEYS = ["../x", "..", ".", "/etc/passwd", "a/b", "a\\b", "a\x00b", "", "x" * 10_000, "\n"]
"""Repository keys that must be refused before any backend touches a path."""

QUERY_OPERATORS = "== != < > <= >= like ilike in !in has_key contains of_type of_length longer shorter and or".split()
QUERY_OPERATORS += ["!==", "~in", "is", "foo"]  # not operators
QUERY_FIELDS = "id uuid label attributes attributes.a attributes.a.0 attributes.a.1.b extras.x ctime".split()
QUERY_FIELDS += ["user_id", "node_type", "repository_metadata", "nope", "", "attributes..a", *SQL_LOOKALIKES[:3]]
query_fields = st.sampled_from(QUERY_FIELDS)
query_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(QUERY_OPERATORS), children, max_size=2)
    ),
    max_leaves=6,
)
query_filters = st.dictionaries(
    query_fields, query_values | st.dictionaries(st.sampled_from(QUERY_OPERATORS), query_values, max_size=2), max_size=3
)
"""Filters of any shape: known and unknown fields and operators, values of every type, nested at random."""
query_projections = st.none() | query_fields | st.lists(query_fields, max_size=2) | st.just("*")
query_entities = st.sampled_from(
    ["node", "user", "group", "computer", "log", "comment", "authinfo", "nodes", "db_dbnode"]
)
