"""count() runs a leaner statement than all() (``count(*)`` over the joins and conditions): it must count alike."""

from __future__ import annotations

import pytest

QUERIES = {
    "every node": lambda q, d: q.append("node"),
    "a JSON range": lambda q, d: q.append("node", filters={"attributes.x": {">": 1}}),
    "a JSON range under not": lambda q, d: q.append("node", filters={"not": {"attributes.x": {">": 1}}}),
    "a string range": lambda q, d: q.append("node", filters={"attributes.s": {">=": "3"}}),
    "a join: every link's output": lambda q, d: q.append("node", tag="a").append("node", with_incoming="a"),
    "a join with a link filter": lambda q, d: q.append("node", tag="a").append(
        "node", with_incoming="a", link_filters={"type": "create"}
    ),
    "distinct of a join's projection": lambda q, d: (
        q.append("node", tag="a", project="id").append("node", with_outgoing="a").distinct()
    ),
    "ordered with a limit": lambda q, d: q.append("node").order_by({"node": {"id": "desc"}}).limit(3),
    "an offset past some rows": lambda q, d: q.append("node").offset(7),
    "an offset past every row": lambda q, d: q.append("node").offset(50),
    "limit and offset": lambda q, d: q.append("node").limit(4).offset(8),
    "descendants": lambda q, d: q.descendants(d.nodes["n0"]),
}


@pytest.mark.parametrize("name", list(QUERIES))
def test_count_is_the_number_of_rows_of_all(storage, data, name):
    """For plain, filtered, joined, distinct, paged and traversing queries, count() == len(all())."""
    build = QUERIES[name]
    rows = build(storage.query(), data).all()
    assert build(storage.query(), data).count() == len(rows)
