"""The core's query language on its own: the grammar's trees, validation in one line, and the builder's spec.

None of these tests needs a storage: the core parses and validates; the SQL layer only compiles. The last
tests check that the SQL layer's tables and joins cover exactly the core's entities and relationships.
"""

from __future__ import annotations

import datetime

import pytest
from provstore.exceptions import ValidationError
from provstore.query import (
    ENTITIES,
    LINK,
    RELATIONSHIPS,
    And,
    Condition,
    FieldKind,
    Not,
    Or,
    QueryBuilder,
    parse_filters,
)
from provstore.query.filters import MAX_DEPTH

NODE = ENTITIES["node"]


class RecordingBuilder(QueryBuilder):
    """A builder that runs nothing: it records the spec it is asked to run."""

    def execute(self, spec):
        self.ran = spec
        return []

    def execute_stream(self, spec, batch_size):
        self.ran = spec
        return iter([])

    def execute_count(self, spec):
        self.ran = spec
        return 0


def test_filters_parse_into_trees_with_normalised_operands():
    """Shorthands, several operators, and/or/not and !op become Condition/And/Or/Not with normalised operands."""
    tree = parse_filters(
        NODE,
        {
            "attributes.a.0.b": 1,
            "label": {"like": "x%", "!in": ["a", "b"]},
            "or": [{"ctime": {"<": datetime.datetime(2024, 1, 1)}}, {"node_type": {"!of_type": "data."}}],
            "not": {"extras": {"has_key": "k"}},
        },
    )
    first, label, either, negated = tree.parts
    assert isinstance(first, Condition) and first.operator == "==" and first.operand == 1
    assert (first.field.name, first.field.path, first.negated) == ("attributes", ("a", 0, "b"), False)
    assert isinstance(label, And)
    assert [(part.operator, part.operand, part.negated) for part in label.parts] == [
        ("like", "x%", False),
        ("in", ("a", "b"), True),
    ]
    assert isinstance(either, Or)
    when = either.parts[0].parts[0].operand
    assert when == datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc) and when.tzinfo is not None
    assert either.parts[1].parts[0] == Condition(either.parts[1].parts[0].field, "of_type", "data", True)
    assert isinstance(negated, Not) and negated.part.parts[0].operator == "has_key"
    assert parse_filters(NODE, {"label": {"!=": "x"}}).parts[0].negated
    assert parse_filters(NODE, {"attributes.x": {"contains": ("a",)}}).parts[0].operand == ["a"]


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"label": {"!==": "x"}}, "unknown operator '!=='"),
        ({"label": {"!": "x"}}, "unknown operator '!'"),
        ({"label": {"!!like": "x"}}, "unknown operator '!!like'"),
        ({"label": {"!has_key": "x"}}, "needs a JSON field"),
        ({"id": {"!like": "1"}}, "needs a text field"),
        ({"attributes.x": {"!<": None}}, "compares with a number or a string"),
        ({"enabled": True}, "unknown field 'enabled' of node"),
        ({"attributes.x": {"in": [{"a": 1}]}}, "JSON scalars"),
        ({"label": {"in": [None]}}, "expected str"),
    ],
)
def test_invalid_filters_raise_one_line(filters, message):
    with pytest.raises(ValidationError) as info:
        parse_filters(NODE, filters)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_nesting_is_bounded():
    """Filters nest up to MAX_DEPTH levels of and/or/not; deeper ones are refused before any database sees them."""
    deep: dict = {"label": "x"}
    for _ in range(MAX_DEPTH):
        deep = {"not": deep}
    parse_filters(NODE, deep)
    with pytest.raises(ValidationError, match="levels deep"):
        parse_filters(NODE, {"or": [deep]})


def test_the_builder_records_a_spec_and_checks_results_calls():
    """Tags, relationships, link tags, default projection, add_filter/add_projection and ordering end up in the spec."""
    query = RecordingBuilder().append("node", tag="in").append("node", tag="out", with_incoming="in")
    spec = query.spec
    assert [(entity.tag, entity.relationship, entity.link_tag) for entity in spec.entities] == [
        ("in", None, None),
        ("out", ("with_incoming", "in"), "in--out"),
    ]
    assert [(p.tag, p.name) for p in spec.projections()] == [("out", "*")]
    query.add_filter("in--out", {"type": "create"}).add_projection("in--out", "label").add_projection("in", "id")
    assert [(p.tag, p.name) for p in spec.projections()] == [("in", "id"), ("in--out", "label")]
    assert spec.entities[1].link_filters[0].parts[0].field.entity == "link"
    query.order_by({"in--out": [{"label": "desc"}], "in": "id"})
    assert [(key.tag, str(key.field), key.descending) for key in spec.order] == [
        ("in--out", "label", True),
        ("in", "id", False),
    ]
    assert query.count() == 0 and query.ran is spec
    assert query.first() is None and query.ran.limit == 1 and spec.limit is None
    assert list(query.iterall(batch_size=7)) == [] and query.dict() == []
    with pytest.raises(ValidationError, match="positive integer"):
        query.iterall(batch_size=0)
    with pytest.raises(ValidationError, match="cannot contain '--'"):
        query.append("node", tag="a--b", with_outgoing="in")
    with pytest.raises(ValidationError, match="below 2"):
        query.limit(2**63)
    with pytest.raises(ValidationError, match="unknown tag 'in--nope'"):
        query.add_filter("in--nope", {"id": 1})


def test_distinct_ordering_is_checked_before_running():
    query = RecordingBuilder().append("node", project="*").distinct().order_by({"node": ["label"]})
    assert query.all() == []
    query.order_by({"node": ["attributes.x"]})
    with pytest.raises(ValidationError, match=r"projected fields, not attributes\.x"):
        query.all()


def test_traversal_arguments_are_validated():
    spec = RecordingBuilder().ancestors(5, link_types="create", max_depth=2).spec
    assert (spec.traversal.pks, spec.traversal.link_types, spec.traversal.max_depth) == ((5,), ("create",), 2)
    for call, message in [
        (lambda: RecordingBuilder().descendants([2**63]), "64-bit"),
        (lambda: RecordingBuilder().descendants([1], link_types=[]), "valid link types"),
        (lambda: RecordingBuilder().descendants([1], max_depth=True), "positive integer"),
    ]:
        with pytest.raises(ValidationError, match=message):
            call()


# ------------------------------------------------------------------------------ the SQL layer covers the core
def test_sql_tables_have_exactly_the_core_fields():
    """Each entity kind's fields are its table's columns, in order, with the same kind and nullability."""
    from provstore_sql.query.joins import TABLES
    from sqlalchemy import JSON, Boolean, DateTime, Integer, String

    sql_kinds = {Integer: FieldKind.INTEGER, String: FieldKind.TEXT, DateTime: FieldKind.DATETIME}
    sql_kinds |= {Boolean: FieldKind.BOOLEAN, JSON: FieldKind.JSON}
    assert set(TABLES) == {*ENTITIES, "link"}
    for name, kind in [*ENTITIES.items(), ("link", LINK)]:
        table = TABLES[name]
        assert [column.name for column in table.columns] == list(kind.field_names), name
        for column, spec in zip(table.columns, kind.fields, strict=True):
            column_type = getattr(column.type, "impl", column.type)
            found = next(kind for sql_type, kind in sql_kinds.items() if isinstance(column_type, sql_type))
            assert (found, column.nullable) == (spec.kind, spec.nullable), (name, column.name)


def test_sql_joins_cover_every_relationship():
    from provstore_sql.query.joins import JOINS

    assert set(JOINS) == set(RELATIONSHIPS)
