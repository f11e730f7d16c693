"""The statements of docs/querying.md that the other query areas do not check: operands, limits, rows, tags.

``DOC_COVERAGE`` maps each section of docs/querying.md to the kit tests that check its statements, so a
reviewer (and ``test_every_documented_section_has_kit_tests``) can see that none is left unchecked.
"""

from __future__ import annotations

import datetime
import time
import uuid

import pytest

from provstore.exceptions import QueryError, ValidationError
from provstore.query.schema import ENTITIES
from provstore.storage import StorageBackend
from provstore.testing.dataset import NODES, Dataset
from provstore.testing.storage.base import StorageTests

__all__ = ["DOC_COVERAGE", "QueryContractTests"]

DOC_COVERAGE: dict[str, list[str]] = {
    "Entities and relationships": [
        "QueryRelationshipTests.test_links_in_both_directions_with_type_and_label_filters",
        "QueryRelationshipTests.test_chained_relationships_and_projections_from_every_entity",
        "QueryRelationshipTests.test_groups_users_comments_logs_and_authinfos",
        "QueryContractTests.test_default_tags_of_repeated_entities",
        "QueryContractTests.test_nodes_by_user_or_computer",
    ],
    "Fields and projections": [
        "QueryResultTests.test_projections_of_columns_paths_and_star",
        "QueryContractTests.test_star_rows_have_the_documented_column_names",
        "QueryContractTests.test_keys_that_are_not_path_safe_are_refused",
        "QueryContractTests.test_empty_projection_lists",
    ],
    "Filters": ["QueryFilterTests", "RandomFilterTests"],
    "Which operators apply to which fields": ["QueryContractTests.test_operators_apply_only_to_their_field_kinds"],
    "and, or and not": ["QueryFilterTests", "RandomFilterTests", "QueryContractTests.test_empty_and_or"],
    "in and !in": [
        "QueryFilterTests",
        "QueryContractTests.test_in_members_on_json_paths_are_scalars",
        "QueryContractTests.test_long_in_and_or_lists_stay_fast",
    ],
    "Operands": [
        "QueryContractTests.test_uuid_operands",
        "QueryContractTests.test_datetime_operands",
        "QueryContractTests.test_integer_operands_fit_in_64_bits",
        "QueryContractTests.test_in_members_on_json_paths_are_scalars",
    ],
    "JSON values compare by JSON type": [
        "QueryFilterTests",
        "RandomFilterTests",
        "QueryContractTests.test_text_columns_compare_by_code_point",
    ],
    "Results": [
        "QueryResultTests",
        "QueryContractTests.test_link_projections_follow_their_entity",
        "QueryContractTests.test_flat_needs_one_projection",
        "QueryContractTests.test_a_second_order_by_replaces_the_first",
        "QueryContractTests.test_limits_of_limit_offset_and_batch_size",
    ],
    "Ancestors and descendants": [
        "QueryTraversalTests",
        "QueryContractTests.test_traversal_limits_and_missing_start_nodes",
    ],
    "Errors": [
        "QueryResultTests.test_invalid_query_usage_raises_validation_errors",
        "QueryFilterTests",
        "QueryContractTests.test_database_limits_raise_query_error",
    ],
    "Performance notes": [
        "QueryContractTests.test_long_in_and_or_lists_stay_fast",
        "TraversalScaleTests.test_traversal_of_a_long_cycle_and_many_start_nodes",
    ],
}
"""Section of docs/querying.md -> the kit tests (``Class`` or ``Class.test``) that check its statements."""

_NAMES = {label: name for name, (_, label, _, _) in NODES.items()}


def _labels(storage: StorageBackend, filters: dict) -> list[str]:
    return sorted(storage.query().append("node", filters=filters, project="label").all(flat=True))


class QueryContractTests(StorageTests):
    """Documented rules of the query API not checked elsewhere, the same on every backend.

    Checks: uuid operands (``str`` in any case or ``uuid.UUID``; a string that is no uuid matches nothing);
    datetimes (naive ones are UTC, strings are refused); the 64-bit integer limit; operators only on the field
    kinds they apply to; keys that are not path-safe refused; ``"*"`` column names; default tags; empty
    projection lists; ``and: []``/``or: []``; code point order and ASCII-only ``ilike`` on columns; link
    projections after their entity's; ``flat``; a second ``order_by``; the limits of ``limit``, ``offset``,
    ``batch_size``, ``max_depth`` and ``link_types``; traversal from pks that do not exist.
    """

    def test_every_documented_section_has_kit_tests(self) -> None:
        """DOC_COVERAGE names existing kit tests for each section of docs/querying.md."""
        from provstore.testing import storage as kit

        for section, tests in DOC_COVERAGE.items():
            assert tests, section
            for name in tests:
                cls_name, _, test = name.partition(".")
                cls = getattr(kit, cls_name)
                assert not test or callable(getattr(cls, test, None)), f"{section}: {name} does not exist"

    def test_uuid_operands(self, provstore_dataset_storage: StorageBackend, provstore_dataset: Dataset) -> None:
        """Uuids match as str in any case, with or without dashes, or as uuid.UUID; in, like and ilike work."""
        storage, data = provstore_dataset_storage, provstore_dataset
        pk = data.nodes["n3"]
        text = data.node_rows[pk]["uuid"]
        forms = [text, text.upper(), uuid.UUID(text), uuid.UUID(text).hex, uuid.UUID(text).hex.upper()]
        for form in forms:
            found = storage.query().append("node", filters={"uuid": form}, project="id").all(flat=True)
            assert found == [pk], form
        found = storage.query().append("node", filters={"uuid": {"in": [*forms, "nope"]}}, project="id")
        assert found.all(flat=True) == [pk]
        assert storage.query().append("node", filters={"uuid": {"!in": forms}}).count() == len(data.nodes) - 1
        assert storage.query().append("node", filters={"uuid": "not a uuid"}).count() == 0
        assert storage.query().append("node", filters={"uuid": {"!=": "not a uuid"}}).count() == len(data.nodes)
        assert storage.query().append("node", filters={"uuid": {"like": text[:24] + "%"}}).count() == len(data.nodes)
        assert storage.query().append("node", filters={"uuid": {"ilike": text.upper()}}).count() == 1
        before = storage.query().append("node", filters={"uuid": {"<": uuid.UUID(text)}}).count()
        assert before == sum(row["uuid"] < text for row in data.node_rows.values())
        uuids = storage.query().append("node", project="uuid").all(flat=True)
        assert all(isinstance(value, str) and value == value.lower() for value in uuids)
        for bad in (3, None, b"x"):
            with pytest.raises(ValidationError):
                storage.query().append("node", filters={"uuid": {"in": [bad]}})

    def test_datetime_operands(self, provstore_dataset_storage: StorageBackend, provstore_dataset: Dataset) -> None:
        """Naive datetimes are taken as UTC, aware ones compare by instant; strings are refused."""
        storage, data = provstore_dataset_storage, provstore_dataset
        ctime = storage.query().append("node", filters={"id": data.nodes["n0"]}, project="ctime").one(flat=True)
        assert ctime.utcoffset() == datetime.timedelta(0)
        naive = ctime.replace(tzinfo=None)
        other_zone = ctime.astimezone(datetime.timezone(datetime.timedelta(hours=5)))
        for operand in (ctime, naive, other_zone):
            assert data.nodes["n0"] in storage.query().append("node", filters={"ctime": operand}, project="id").all(
                flat=True
            )
        later = storage.query().append("node", filters={"ctime": {">": naive}}).count()
        assert later == storage.query().append("node", filters={"ctime": {">": ctime}}).count()
        for bad in (ctime.isoformat(), 0, datetime.date(2020, 1, 1)):
            with pytest.raises(ValidationError, match="expected datetime"):
                storage.query().append("node", filters={"ctime": {"<": bad}})

    def test_integer_operands_fit_in_64_bits(
        self, provstore_dataset_storage: StorageBackend, provstore_dataset: Dataset
    ) -> None:
        """Integers in [-2**63, 2**63) are accepted on columns and JSON paths; others raise ValidationError."""
        storage = provstore_dataset_storage
        assert storage.query().append("node", filters={"id": -(2**63)}).count() == 0
        extremes = [-(2**63), 2**63 - 1, 2**40]
        assert storage.query().append("node", filters={"id": {"in": extremes}}).count() == 0
        assert storage.query().append("node", filters={"id": {"!in": extremes}}).count() == len(provstore_dataset.nodes)
        assert storage.query().append("node", filters={"id": {"<": 2**63 - 1}}).count() == len(provstore_dataset.nodes)
        assert storage.query().append("node", filters={"attributes.x": {"<": 2**63 - 1}}).count() > 0
        for filters in (
            {"id": 2**63},
            {"id": {"in": [1, -(2**63) - 1]}},
            {"attributes.x": 2**63},
            {"attributes.x": {"in": [2**64]}},
            {"attributes": {"contains": {"x": 2**63}}},
        ):
            with pytest.raises(ValidationError, match="does not fit in 64 bits"):
                storage.query().append("node", filters=filters)

    def test_in_members_on_json_paths_are_scalars(self, provstore_dataset_storage: StorageBackend) -> None:
        """Members of in on a JSON path are JSON scalars; lists and objects raise ValidationError."""
        storage = provstore_dataset_storage
        for member in ([1], {"k": 1}):
            with pytest.raises(ValidationError, match="JSON scalars"):
                storage.query().append("node", filters={"attributes.x": {"in": [1, member]}})
        with pytest.raises(ValidationError, match="expected int"):
            storage.query().append("node", filters={"id": {"in": [1, None]}})
        with pytest.raises(ValidationError, match="takes a list"):
            storage.query().append("node", filters={"id": {"in": 1}})

    def test_operators_apply_only_to_their_field_kinds(self, provstore_dataset_storage: StorageBackend) -> None:
        """like/ilike/of_type need text, has_key/contains JSON, ordering no booleans; others raise ValidationError."""
        storage = provstore_dataset_storage
        refused = [
            ("node", {"ctime": {"like": "2020%"}}, "needs a text field"),
            ("node", {"id": {"ilike": "1"}}, "needs a text field"),
            ("node", {"attributes": {"of_type": "data"}}, "needs a text field"),
            ("node", {"label": {"has_key": "a"}}, "needs a JSON field"),
            ("node", {"label": {"contains": ["a"]}}, "needs a JSON field"),
            ("authinfo", {"enabled": {"<": True}}, "booleans have no order"),
            ("node", {"attributes.x": {"<": None}}, "compares with a number or a string"),
            ("node", {"attributes.x": {"<": [1]}}, "compares with a number or a string"),
            ("node", {"label": {"<": 1}}, "expected str"),
            ("node", {"attributes": {"contains": "a"}}, "dict or a list"),
            ("node", {"label": {"is_null": 1}}, "true or false"),
        ]
        for entity, filters, message in refused:
            with pytest.raises(ValidationError, match=message):
                storage.query().append(entity, filters=filters)
        assert storage.query().append("authinfo", filters={"enabled": {"in": [True, False]}}).count() >= 0
        assert storage.query().append("node", filters={"attributes.x": {"like": "3"}}).count() == 1

    def test_keys_that_are_not_path_safe_are_refused(self, provstore_dataset_storage: StorageBackend) -> None:
        """Keys with spaces or other characters, and empty keys, raise ValidationError in paths and operands."""
        storage = provstore_dataset_storage
        for filters in (
            {"attributes.a b": 1},
            {"attributes..x": 1},
            {"attributes": {"has_key": "a b"}},
            {"attributes": {"has_key": ""}},
            {"attributes": {"==": {"a b": 1}}},
            {"attributes": {"contains": {"": 1}}},
            {"attributes": {"contains": [{"a.b": 1}]}},
        ):
            with pytest.raises(ValidationError, match="letters, digits"):
                storage.query().append("node", filters=filters)
        assert _labels(storage, {"attributes.nested.a.b": {"has_key": "0"}}) == ["délta"]

    def test_star_rows_have_the_documented_column_names(
        self, provstore_dataset_storage: StorageBackend, provstore_dataset: Dataset
    ) -> None:
        """A "*" row has exactly the fields of the entity, in schema order, for every entity."""
        storage = provstore_dataset_storage
        for name, kind in ENTITIES.items():
            row = storage.query().append(name, project="*").first()
            if row is not None:
                assert list(row[0]) == list(kind.field_names), name
        node = storage.query().append("node", project="*").first(flat=True)
        assert list(node) == [
            "id", "uuid", "node_type", "process_type", "label", "description", "ctime", "mtime",
            "attributes", "extras", "repository_metadata", "dbcomputer_id", "user_id",
        ]  # fmt: skip

    def test_nodes_by_user_or_computer(
        self, provstore_dataset_storage: StorageBackend, provstore_dataset: Dataset
    ) -> None:
        """Nodes filter by user through user_id or with_node, and by computer through dbcomputer_id or with_node."""
        storage, data = provstore_dataset_storage, provstore_dataset
        for user in data.users.values():
            by_column = storage.query().append("node", filters={"user_id": user}, project="id").all(flat=True)
            joined = storage.query().append("user", filters={"id": user}).append("node", with_user="user", project="id")
            assert sorted(by_column) == sorted(joined.all(flat=True))
            assert sorted(by_column) == sorted(pk for pk, row in data.node_rows.items() if row["user_id"] == user)
        daint = data.computers["daint"]
        by_column = storage.query().append("node", filters={"dbcomputer_id": daint}, project="id").all(flat=True)
        joined = storage.query().append("computer", filters={"label": "daint"})
        joined.append("node", with_computer="computer", project="id")
        assert sorted(by_column) == sorted(joined.all(flat=True))
        assert sorted(by_column) == sorted(pk for pk, row in data.node_rows.items() if row["dbcomputer_id"] == daint)

    def test_default_tags_of_repeated_entities(
        self, provstore_dataset_storage: StorageBackend, provstore_dataset: Dataset
    ) -> None:
        """Repeated entities are tagged <name>_<position>; a link is tagged '<input tag>--<output tag>'."""
        storage = provstore_dataset_storage
        qb = storage.query().append("node", project="id").append("user", with_node="node")
        qb.append("node", with_incoming="node", project="id", link_project="type")
        assert repr(qb) == "QueryBuilder(node:node, user:user, node_2:node)".replace("QueryBuilder", type(qb).__name__)
        rows = qb.dict()
        assert all(set(row) == {"node", "node_2", "node--node_2"} for row in rows) and rows
        with pytest.raises(ValidationError, match="already used"):
            storage.query().append("node").append("node", tag="node", with_incoming="node")

    def test_empty_projection_lists(
        self, provstore_dataset_storage: StorageBackend, provstore_dataset: Dataset
    ) -> None:
        """project=[] projects nothing of that entity; a query with no projection at all projects the last "*"."""
        storage, data = provstore_dataset_storage, provstore_dataset
        alone = storage.query().append("node", filters={"id": data.nodes["n0"]}, project=[]).one()
        assert len(alone) == 1 and alone[0]["id"] == data.nodes["n0"]
        qb = storage.query().append("user", project="email", filters={"id": data.users["ada"]})
        rows = qb.append("node", with_user="user", project=[]).all()
        assert rows and all(row == ("ada@example.org",) for row in rows)

    def test_empty_and_or(self, provstore_dataset_storage: StorageBackend, provstore_dataset: Dataset) -> None:
        """and: [] is true, or: [] is false, and their negations are the complements."""
        storage, every = provstore_dataset_storage, len(provstore_dataset.nodes)
        assert storage.query().append("node", filters={"and": []}).count() == every
        assert storage.query().append("node", filters={"or": []}).count() == 0
        assert storage.query().append("node", filters={"not": {"or": []}}).count() == every
        assert storage.query().append("node", filters={"not": {"and": []}}).count() == 0
        assert storage.query().append("node", filters={}).count() == every

    def test_text_columns_compare_by_code_point(self, provstore_dataset_storage: StorageBackend) -> None:
        """Text columns compare and sort by code point, and ilike folds ASCII only, as on JSON values."""
        storage = provstore_dataset_storage
        labels = [label for _, label, _, _ in NODES.values()]
        assert _labels(storage, {"label": {"<": "a"}}) == sorted(label for label in labels if label < "a")
        assert _labels(storage, {"label": {">=": "d"}}) == sorted(label for label in labels if label >= "d")
        assert _labels(storage, {"label": {"ilike": "ALPHA"}}) == ["Alpha", "alpha"]
        assert _labels(storage, {"label": {"ilike": "DÉLTA"}}) == []
        assert _labels(storage, {"label": {"ilike": "DéLTA"}}) == ["délta"]

    def test_link_projections_follow_their_entity(
        self, provstore_dataset_storage: StorageBackend, provstore_dataset: Dataset
    ) -> None:
        """In all() rows an entity's own projections come first, then its link's, then later entities'."""
        storage = provstore_dataset_storage
        qb = storage.query().append("node", tag="a", project="id")
        qb.append("node", tag="b", with_incoming="a", project="id", link_project=["input_id", "output_id", "type"])
        qb.append("user", with_node="b", project="id")
        rows = qb.all()
        assert rows
        for a, b, input_id, output_id, link_type, user in rows:
            assert (a, b) == (input_id, output_id) and isinstance(link_type, str) and isinstance(user, int)

    def test_flat_needs_one_projection(self, provstore_dataset_storage: StorageBackend) -> None:
        """flat=True with several projections (or a "*" with another) raises ValidationError in every result method."""
        storage = provstore_dataset_storage
        qb = storage.query().append("node", project=["id", "label"])
        for call in (qb.all, qb.first, qb.one, lambda flat: list(qb.iterall(flat=flat))):
            with pytest.raises(ValidationError, match="exactly one projection"):
                call(flat=True)
        assert all(isinstance(row, dict) for row in storage.query().append("node", project="*").all(flat=True))

    def test_a_second_order_by_replaces_the_first(self, provstore_dataset_storage: StorageBackend) -> None:
        """order_by replaces the earlier ordering instead of adding to it."""
        storage = provstore_dataset_storage
        qb = storage.query().append("node", project="id").order_by({"node": {"id": "desc"}})
        assert qb.order_by({"node": "id"}).all(flat=True) == sorted(qb.all(flat=True))
        ids = storage.query().append("node", project="id").order_by({"node": "id"}).all(flat=True)
        assert qb.order_by({"node": "label"}).order_by({"node": {"id": "desc"}}).all(flat=True) == ids[::-1]

    def test_limits_of_limit_offset_and_batch_size(self, provstore_dataset_storage: StorageBackend) -> None:
        """limit/offset take 0..2**63-1 or None, batch_size 1..2**63-1; other values raise ValidationError."""
        storage = provstore_dataset_storage
        qb = storage.query().append("node", project="id").order_by({"node": "id"})
        every = qb.all(flat=True)
        assert qb.limit(0).all() == [] and qb.limit(2**63 - 1).offset(2**63 - 1).all() == []
        assert qb.limit(None).offset(None).all(flat=True) == every
        assert list(qb.iterall(batch_size=1, flat=True)) == every
        assert list(qb.iterall(batch_size=2**63 - 1, flat=True)) == every
        for bad in (-1, 2**63, True, 1.0, "1"):
            with pytest.raises(ValidationError, match="non-negative integer"):
                qb.limit(bad)
            with pytest.raises(ValidationError, match="non-negative integer"):
                qb.offset(bad)
        for bad in (0, -1, 2**63, True, None):
            with pytest.raises(ValidationError, match="positive integer"):
                list(qb.iterall(batch_size=bad))
            with pytest.raises(ValidationError, match="positive integer"):
                list(qb.iterdict(batch_size=bad))

    def test_traversal_limits_and_missing_start_nodes(
        self, provstore_dataset_storage: StorageBackend, provstore_dataset: Dataset
    ) -> None:
        """max_depth is 1..2**63-1 or None, link_types one or more known types; missing start pks reach nothing."""
        storage, data = provstore_dataset_storage, provstore_dataset
        missing = [max(data.nodes.values()) + 1000, -5, 2**63 - 1]
        for method in ("ancestors", "descendants"):
            assert getattr(storage.query(), method)(missing, project="id").all() == []
            assert getattr(storage.query(), method)([], project="id").all() == []
            every = getattr(storage.query(), method)(list(data.nodes.values()), project="id", max_depth=2**63 - 1)
            with_missing = getattr(storage.query(), method)(list(data.nodes.values()) + missing, project="id")
            assert sorted(every.all(flat=True)) == sorted(with_missing.all(flat=True))
            for bad in (0, -1, 2**63, True, 1.5):
                with pytest.raises(ValidationError, match="max_depth"):
                    getattr(storage.query(), method)([1], max_depth=bad)
            for bad, message in (([], "at least one"), (["nope"], "unknown link types"), ("nope", "unknown link")):
                with pytest.raises(ValidationError, match=message):
                    getattr(storage.query(), method)([1], link_types=bad)
            with pytest.raises(ValidationError, match="64-bit"):
                getattr(storage.query(), method)([2**63])

    def test_long_in_and_or_lists_stay_fast(
        self, provstore_dataset_storage: StorageBackend, provstore_dataset: Dataset
    ) -> None:
        """in lists of 100,000 values on columns and JSON paths, and or lists of 5,000 terms, answer in seconds."""
        storage, data = provstore_dataset_storage, provstore_dataset
        start = time.perf_counter()
        strings = [f"v{i}" for i in range(100_000)] + ["relax"]
        expected = sorted(pk for pk, row in data.node_rows.items() if (row["attributes"] or {}).get("kind") == "relax")
        found = storage.query().append("node", filters={"attributes.kind": {"in": strings}}, project="id")
        assert sorted(found.all(flat=True)) == expected
        numbers = [*range(10**6, 10**6 + 100_000), data.nodes["n4"]]
        assert storage.query().append("node", filters={"id": {"in": numbers}}, project="id").all(flat=True) == [
            data.nodes["n4"]
        ]
        assert storage.query().append("node", filters={"attributes.x": {"!in": numbers}}).count() == len(data.nodes)
        terms = [{"label": f"nope{i}"} for i in range(5_000)] + [{"label": "alpha"}]
        assert storage.query().append("node", filters={"or": terms}).count() == 1
        assert time.perf_counter() - start < 20  # quadratic or OR-chained lists take minutes or fail outright

    # 12,000 bound values: seconds on PostgreSQL, about ten on SQLite (it plans long ORs superlinearly)
    @pytest.mark.slow
    def test_database_limits_raise_query_error(self, provstore_dataset_storage: StorageBackend) -> None:
        """A valid query beyond a database's limits answers correctly or raises a one-line QueryError, never raw."""
        storage = provstore_dataset_storage
        terms = [{"label": f"nope{i}"} for i in range(12_000)] + [{"label": "alpha"}]
        try:
            count = storage.query().append("node", filters={"or": terms}).count()
        except QueryError as exc:
            assert "\n" not in str(exc) and exc.__cause__ is not None
        else:
            assert count == 1
