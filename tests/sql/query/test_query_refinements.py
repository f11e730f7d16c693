"""Negated operators (``!op``), ``add_filter``/``add_projection`` and link tags behave the same on every backend."""

from __future__ import annotations

NEGATABLE = [
    ("attributes.x", "<", 3),
    ("attributes.x", ">=", "3"),
    ("attributes.s", "like", "a%"),
    ("attributes.s", "ilike", "A%"),
    ("attributes.nested.a", "has_key", "b"),
    ("attributes.tags", "contains", ["red"]),
    ("attributes.nul", "is_null", True),
    ("attributes.x", "==", 3),
    ("attributes.x", "in", [3, "3", None]),
    ("label", "like", "%a"),
    ("label", ">", "beta"),
    ("process_type", "is_null", False),
    ("process_type", "in", ["aiida.calculations:x"]),
    ("node_type", "of_type", "data"),
]


def test_every_operator_negated_is_its_exact_complement(storage, data):
    """{field: {"!op": v}} selects exactly the nodes {"not": {field: {op: v}}} does (missing values included)."""
    wrong = []
    for field, op, operand in NEGATABLE:
        negated = "!=" if op == "==" else f"!{op}"
        got = data.select(storage, {field: {negated: operand}})
        expected = data.expected({"not": {field: {op: operand}}})
        if got != expected or got != data.select(storage, {"not": {field: {op: operand}}}):
            wrong.append(f"{field} {negated} {operand!r}: got {got}, expected {expected}")
    assert not wrong, "\n".join(wrong)


def test_add_filter_and_add_projection_refine_entities_and_links(storage, data):
    """add_filter ANDs with earlier filters; add_projection appends columns; both reach links by their tag."""
    query = storage.query().append("node", tag="src", filters={"node_type": {"of_type": "data"}}, project="label")
    query.add_filter("src", {"attributes.x": {">": 2}}).add_projection("src", ["attributes.x"])
    assert query.all() == [("alpha", 3)]
    query.append("node", tag="dst", with_incoming="src", project="label")
    query.add_filter("src--dst", {"type": {"!in": ["return"]}}).add_projection("src--dst", ["type", "label"])
    # n0 (alpha) links to n5 (gamma) by input_calc and to n6 (délta) by input_work, both labelled x
    assert sorted(query.all()) == [("alpha", 3, "délta", "input_work", "x"), ("alpha", 3, "gamma", "input_calc", "x")]
    rows = query.dict()
    assert {row["src--dst"]["type"] for row in rows} == {"input_calc", "input_work"}
    ordered = query.order_by({"src--dst": [{"type": "desc"}]}).all()
    assert [row[3] for row in ordered] == ["input_work", "input_calc"]
