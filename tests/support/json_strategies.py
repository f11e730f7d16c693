"""Hypothesis strategies generating valid JSON field values (nested dicts, lists and scalars)."""

from __future__ import annotations

from hypothesis import strategies as st

KEYS = st.text(min_size=1, max_size=8).filter(lambda key: "." not in key and "\x00" not in key)
TEXT = st.text(max_size=20).filter(lambda text: "\x00" not in text)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=4),
    max_leaves=30,
)
JSON_DICTS = st.dictionaries(KEYS, JSON_VALUES, max_size=6)
