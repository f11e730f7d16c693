"""Query results on the kit's data set: projections, ordering, limit/offset, counting, streaming."""

from __future__ import annotations

import pytest

from provstore.exceptions import MultipleObjectsError, NotExistent, ValidationError
from provstore.storage import EntityTypes, StorageBackend
from provstore.testing.dataset import MISSING, NODES, SQL_INJECTION, Dataset, resolve
from provstore.testing.storage.base import StorageTests

__all__ = ["QueryResultTests"]


def _json_sort_key(value):
    """The documented order of JSON values: numbers, strings (code points), false/true, then the rest."""
    if isinstance(value, bool):
        return (3, value)
    if isinstance(value, (int, float)):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    return (4, 0)


class QueryResultTests(StorageTests):
    """Result forms of the query builder, the same on every backend.

    Checks: ``all``/``first``/``one``/``count``/``dict`` and the streaming ``iterall``/``iterdict`` (any batch
    size) give the documented rows; projections of columns, JSON paths (``None`` when missing) and ``"*"``
    keep JSON types; ``order_by`` on columns (code points, NULL last) and on JSON paths (numbers, strings,
    booleans, the rest) in both directions; ``limit``/``offset`` page; ``distinct``; misused builder methods raise
    one-line ``ValidationError`` and a rejected ``append`` leaves the query unchanged.
    """

    def test_order_by_json_path_follows_json_types(
        self, provstore_dataset_storage: StorageBackend, provstore_dataset: Dataset
    ) -> None:
        """Ordering by attributes.x puts numbers by value, then strings, then booleans, then null/missing."""
        storage, data = provstore_dataset_storage, provstore_dataset
        for direction in ("asc", "desc"):
            rows = (
                storage.query()
                .append("node", project=["id", "attributes.x"])
                .order_by({"node": [{"attributes.x": direction}]})
                .all()
            )
            keys = [_json_sort_key(value) for _, value in rows]
            assert keys == sorted(keys, reverse=direction == "desc")
            assert sorted(pk for pk, _ in rows) == sorted(data.nodes.values())
        labels = storage.query().append("node", project="label").order_by({"node": "attributes.x"}).all(flat=True)
        assert labels[:5] == ["epsilon", "100%_done", "Alpha", "alpha", "gamma"]
        assert labels[5:7] == ["beta", "délta"]

    def test_order_by_columns_uses_code_points_and_null_last(
        self, provstore_dataset_storage: StorageBackend, provstore_dataset: Dataset
    ) -> None:
        """Text columns order by code point (uppercase before lowercase); NULL columns sort last ascending."""
        storage = provstore_dataset_storage
        labels = storage.query().append("node", project="label").order_by({"node": ["label"]}).all(flat=True)
        assert labels == sorted(label for _, label, _, _ in NODES.values())
        desc = storage.query().append("node", project="label").order_by({"node": {"label": "desc"}}).all(flat=True)
        assert desc == list(reversed(labels))
        rows = storage.query().append("node", project=["process_type", "id"]).order_by({"node": ["process_type", "id"]})
        kinds = [kind for kind, _ in rows.all()]
        assert kinds[:2] == ["aiida.calculations:x"] * 2 and set(kinds[2:]) == {None}
        rows = storage.query().append("node", project="process_type").order_by({"node": {"process_type": "desc"}})
        assert rows.all(flat=True)[:8] == [None] * 8

    def test_limit_offset_first_one_count(
        self, provstore_dataset_storage: StorageBackend, provstore_dataset: Dataset
    ) -> None:
        """limit/offset page through ordered rows; first/one/count behave and error as documented."""
        storage, data = provstore_dataset_storage, provstore_dataset
        ordered = storage.query().append("node", project="id").order_by({"node": "id"})
        every = ordered.all(flat=True)
        assert every == sorted(data.nodes.values())
        page = storage.query().append("node", project="id").order_by({"node": "id"}).limit(3).offset(2).all(flat=True)
        assert page == every[2:5]
        assert storage.query().append("node", project="id").order_by({"node": {"id": "desc"}}).first() == (every[-1],)
        assert storage.query().append("node", filters={"label": "nope"}).first() is None
        assert (
            storage.query().append("node", filters={"label": "beta"}, project="id").one(flat=True) == data.nodes["n2"]
        )
        with pytest.raises(NotExistent):
            storage.query().append("node", filters={"label": "nope"}).one()
        with pytest.raises(MultipleObjectsError):
            storage.query().append("node", filters={"label": {"like": "%a"}}).one()
        assert storage.query().append("node").count() == 10
        assert storage.query().append("node").limit(4).count() == 4
        assert storage.query().append("node", filters={"attributes.x": {">": 2}}).count() == 2

    def test_projections_of_columns_paths_and_star(
        self, provstore_dataset_storage: StorageBackend, provstore_dataset: Dataset
    ) -> None:
        """Projections return columns, JSON values at paths (None when missing) and whole rows as dicts."""
        storage, data = provstore_dataset_storage, provstore_dataset
        pk = data.nodes["n0"]
        row = (
            storage.query()
            .append(
                "node",
                filters={"id": pk},
                project=["label", "attributes.nested.a.b.2", "attributes.b", "attributes.f", "attributes.nope", "*"],
            )
            .one()
        )
        label, deep, flag, number, missing, star = row
        assert (label, deep, flag, number, missing) == ("alpha", {"c": "deep"}, True, 2.5, None)
        assert star["id"] == pk and star["attributes"]["sql"] == SQL_INJECTION and star["label"] == "alpha"
        assert isinstance(flag, bool)
        values = storage.query().append("node", project="attributes.x").order_by({"node": "id"}).all(flat=True)
        expected = []
        for _, _, attributes, _ in NODES.values():
            value = MISSING if attributes is None else resolve(attributes, "x")
            expected.append(None if value is MISSING else value)
        assert values == expected
        assert [type(value) for value in values] == [type(value) for value in expected]
        default = storage.query().append("node", filters={"id": pk}).one()
        assert default[0]["label"] == "alpha"

    def test_json_projection_types_survive(
        self, provstore_dataset_storage: StorageBackend, provstore_dataset: Dataset
    ) -> None:
        """Booleans stay booleans, integers integers, unicode intact, lists and objects decoded."""
        storage, data = provstore_dataset_storage, provstore_dataset
        pk = data.nodes["n0"]
        fields = [
            "attributes.b",
            "attributes.x",
            "attributes.u",
            "attributes.tags",
            "attributes.nested",
            "attributes.nul",
        ]
        values = storage.query().append("node", filters={"id": pk}, project=fields).one()
        assert values == (True, 3, "ünïcødé ☃", ["red", "blue"], {"a": {"b": [1, 2, {"c": "deep"}]}}, None)
        assert [type(value) for value in values[:2]] == [bool, int]

    def test_distinct_and_dict_forms(
        self, provstore_dataset_storage: StorageBackend, provstore_dataset: Dataset
    ) -> None:
        """distinct() removes duplicate rows (also with ordering on projected fields); dict() keys rows by tag."""
        storage, data = provstore_dataset_storage, provstore_dataset
        types = storage.query().append("node", project="node_type").distinct().order_by({"node": "node_type"})
        assert types.all(flat=True) == sorted({row["node_type"] for row in data.node_rows.values()})
        assert types.count() == 5
        scores = storage.query().append("node", project="extras.score").distinct().order_by({"node": "extras.score"})
        assert scores.all(flat=True) == [0, 1, 2, 3.5, "2", None]
        with pytest.raises(ValidationError, match="projected fields"):
            storage.query().append("node", project="node_type").distinct().order_by({"node": "label"}).all()
        rows = storage.query().append("node", filters={"label": "beta"}, project=["*", "attributes.x"]).dict()
        assert rows[0]["node"]["label"] == "beta" and rows[0]["node"]["attributes.x"] == "3"

    def test_iterall_and_iterdict_stream_the_same_rows(
        self, provstore_dataset_storage: StorageBackend, provstore_dataset: Dataset
    ) -> None:
        """iterall yields what all() returns, in batches of any size; iterdict yields what dict() returns."""
        storage = provstore_dataset_storage
        query = storage.query().append("node", project=["id", "attributes.x"]).order_by({"node": "id"})
        for size in (1, 3, 1000):
            assert list(query.iterall(batch_size=size)) == query.all()
        assert list(query.iterdict(batch_size=2)) == query.dict()
        assert sorted(storage.query().append("node", project="id").iterall(flat=True)) == sorted(
            storage.query().append("node", project="id").all(flat=True)
        )

    def test_invalid_query_usage_raises_validation_errors(
        self, provstore_dataset_storage: StorageBackend, provstore_dataset: Dataset
    ) -> None:
        """Misused builder methods raise one-line ValidationErrors naming what is valid."""
        storage = provstore_dataset_storage
        cases = [
            (lambda: storage.query().append("nodes"), "unknown entity 'nodes'; valid entities: node, user, group"),
            (lambda: storage.query().all(), "the query is empty"),
            (lambda: storage.query().append("node", project="nope"), "unknown field 'nope'"),
            (lambda: storage.query().append("node", project=3), "project takes"),
            (lambda: storage.query().append("node").append("node"), "exactly one relationship"),
            (
                lambda: storage.query().append("node", tag="a").append("node", tag="a", with_incoming="a"),
                "already used",
            ),
            (lambda: storage.query().append("node").append("node", with_incoming="x"), "unknown tag 'x'"),
            (lambda: storage.query().append("user").append("node", with_incoming="user"), "takes the tag of a node"),
            (
                lambda: storage.query().append("node").append("group", with_incoming="node"),
                "valid: with_node, with_user",
            ),
            (lambda: storage.query().append("node", with_user="x"), "first entity"),
            (lambda: storage.query().append("node").append("user", with_node="node", link_project="type"), "link_"),
            (lambda: storage.query().append("node").order_by({"node": {"label": "up"}}), "'asc' or 'desc'"),
            (lambda: storage.query().append("node").order_by({"nope": "label"}), "unknown tag"),
            (lambda: storage.query().append("node").order_by(["label"]), "order_by takes a dict"),
            (lambda: storage.query().append("node").limit(-1), "non-negative"),
            (lambda: storage.query().append("node").offset("1"), "non-negative"),
            (lambda: storage.query().append("node", project=["id", "label"]).all(flat=True), "exactly one projection"),
            (lambda: storage.query().append("node").ancestors([1]), "start a query"),
            (lambda: storage.query().ancestors(["1"]), "int or a list of ints"),
            (lambda: storage.query().ancestors([1], link_types=["calls"]), "valid link types: create"),
            (lambda: storage.query().ancestors([1], max_depth=0), "positive integer"),
        ]
        for call, message in cases:
            with pytest.raises(ValidationError) as info:
                call()
            assert message in str(info.value)
            assert "\n" not in str(info.value)

    def test_a_rejected_append_leaves_the_query_unchanged(
        self, provstore_dataset_storage: StorageBackend, provstore_dataset: Dataset
    ) -> None:
        """An append that fails validation adds nothing: the query still runs as before, and the tag stays free."""
        storage = provstore_dataset_storage
        query = storage.query().append(EntityTypes.NODE, project="id")
        with pytest.raises(ValidationError):
            query.append("user", tag="owner", with_node="node", filters={"nope": 1})
        assert query.count() == 10
        assert query.append("user", tag="owner", with_node="node", project="email").count() == 10
