"""Links between nodes: what is stored and read back, every link rule, cycle detection, nothing written on refusal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from provstore.exceptions import ValidationError
from provstore.storage import EntityTypes, LinkTriple, LinkType, Node, StorageBackend
from provstore.testing.storage.base import CALC, DATA, WORK, StorageTests, link_pairs, node_factory, writes

__all__ = ["LinkTests"]

KIND_CASES = [
    ("input_calc", CALC, CALC, "needs a data node"),
    ("input_calc", DATA, WORK, "needs a calculation node"),
    ("input_work", DATA, CALC, "needs a workflow node"),
    ("create", WORK, DATA, "needs a calculation node"),
    ("create", CALC, CALC, "needs a data node"),
    ("return", CALC, DATA, "needs a workflow node"),
    ("call_calc", WORK, WORK, "needs a calculation node"),
    ("call_work", CALC, WORK, "needs a workflow node"),
    ("input_calc", "unknown.kind.", CALC, "needs a data node"),
]
"""(link type, source type, target type, message): links joining the wrong kinds of node."""

VALID_KINDS = [
    ("input_calc", DATA, CALC),
    ("input_work", DATA, WORK),
    ("create", CALC, DATA),
    ("return", WORK, DATA),
    ("call_calc", WORK, CALC),
    ("call_work", WORK, WORK),
]

INVALID_LABELS = ["", "1x", "has space", "a.b", "a-b", "x" * 256, None]


@writes
class LinkTests(StorageTests):
    """Links keep their type and label, follow every rule of ``LINK_RULES`` and never close a provenance cycle.

    Checks: ``add_incoming`` stores the link with its exact type and label (read back by ``get_incoming``,
    ``get_outgoing`` and the query API), oldest first and filtered by type and label; links of the wrong node
    kinds, unknown types, invalid labels, unstored or self links, duplicates, second inputs with one label, second
    creators or callers, repeated output labels and cycles are refused with ``ValidationError`` and write
    nothing; a refused link inside a transaction leaves the rest of it intact.
    """

    @pytest.fixture
    def make(self, provstore_storage: StorageBackend) -> Callable[[str], Node]:
        """Return a function storing a new node of the given type."""
        return node_factory(provstore_storage)

    @staticmethod
    def refused(storage: StorageBackend, target: Node, source: Any, link_type: Any, label: Any, message: str) -> None:
        """Assert that the link is refused with ``message`` and that no link was written."""
        before = link_pairs(storage)
        with pytest.raises(ValidationError, match=message):
            target.add_incoming(source, link_type, label)
        assert link_pairs(storage) == before

    def test_valid_provenance(self, provstore_storage: StorageBackend, make: Callable[[str], Node]) -> None:
        data, calc, work, result = make(DATA), make(CALC), make(WORK), make(DATA)
        work.add_incoming(data, LinkType.INPUT_WORK, "x")
        calc.add_incoming(work, LinkType.CALL_CALC, "step")
        calc.add_incoming(data, "input_calc", "x")  # plain strings work too
        result.add_incoming(calc, LinkType.CREATE, "result")
        result.add_incoming(work, LinkType.RETURN, "result")
        result.add_incoming(work, LinkType.RETURN, "alias")  # a workflow may return a node under two labels
        data.add_incoming(work, LinkType.RETURN, "passthrough")  # ... or return its own input
        assert calc.get_incoming() == [
            LinkTriple(work, LinkType.CALL_CALC, "step"),
            LinkTriple(data, LinkType.INPUT_CALC, "x"),
        ]
        assert calc.get_incoming(link_type="input_calc") == [LinkTriple(data, LinkType.INPUT_CALC, "x")]
        assert result.get_incoming(link_label="alias") == [LinkTriple(work, LinkType.RETURN, "alias")]
        outgoing = [triple.link_label for triple in work.get_outgoing(link_type=LinkType.RETURN)]
        assert outgoing == ["result", "alias", "passthrough"]
        assert calc.get_outgoing() == [LinkTriple(result, LinkType.CREATE, "result")]
        assert make(DATA).get_incoming() == []
        assert provstore_storage.nodes.create(node_type=DATA).get_outgoing() == []
        with pytest.raises(ValidationError, match="unknown link type 'bogus'"):
            calc.get_incoming(link_type="bogus")

    @pytest.mark.parametrize(("link_type", "source_type", "target_type"), VALID_KINDS)
    def test_each_link_type_is_stored_with_its_label(
        self,
        provstore_storage: StorageBackend,
        make: Callable[[str], Node],
        link_type: str,
        source_type: str,
        target_type: str,
    ) -> None:
        source, target = make(source_type), make(target_type)
        target.add_incoming(source, link_type, "the_label_1")
        expected = (source.pk, target.pk, link_type, "the_label_1")
        assert link_pairs(provstore_storage) == [expected]
        fresh = provstore_storage.nodes.get(target.pk)
        assert fresh.get_incoming() == [LinkTriple(source, LinkType(link_type), "the_label_1")]
        assert provstore_storage.nodes.get(source.pk).get_outgoing()[0].link_label == "the_label_1"

    def test_bulk_inserted_links_keep_type_and_label(self, provstore_storage: StorageBackend) -> None:
        user = provstore_storage.users.create(email="links@x").store().pk
        rows = [{"node_type": node_type, "user_id": user} for node_type in (DATA, CALC, DATA)]
        data, calc, result = provstore_storage.bulk_insert(EntityTypes.NODE, rows, allow_defaults=True)
        provstore_storage.bulk_insert(
            EntityTypes.LINK,
            [
                {"input_id": data, "output_id": calc, "type": "input_calc", "label": "structure"},
                {"input_id": calc, "output_id": result, "type": "create", "label": "energy"},
            ],
        )
        assert link_pairs(provstore_storage) == sorted(
            [(data, calc, "input_calc", "structure"), (calc, result, "create", "energy")]
        )
        (triple,) = provstore_storage.nodes.get(result).get_incoming()
        assert (triple.node.pk, triple.link_type, triple.link_label) == (calc, LinkType.CREATE, "energy")

    @pytest.mark.parametrize(("link_type", "source_type", "target_type", "message"), KIND_CASES)
    def test_node_kinds(
        self,
        provstore_storage: StorageBackend,
        make: Callable[[str], Node],
        link_type: str,
        source_type: str,
        target_type: str,
        message: str,
    ) -> None:
        self.refused(provstore_storage, make(target_type), make(source_type), link_type, "label", message)

    def test_unstored_self_and_foreign_nodes(
        self, provstore_storage: StorageBackend, make: Callable[[str], Node]
    ) -> None:
        storage = provstore_storage
        data, calc = make(DATA), make(CALC)
        self.refused(storage, calc, storage.nodes.create(node_type=DATA), "input_calc", "x", "source must be a stored")
        self.refused(storage, storage.nodes.create(node_type=CALC), data, "input_calc", "x", "target must be a stored")
        self.refused(storage, calc, "not a node", "input_calc", "x", "source must be a node, got str")
        work = make(WORK)
        self.refused(storage, work, work, "call_work", "self", "cannot be linked to itself")

    def test_unknown_link_type(self, provstore_storage: StorageBackend, make: Callable[[str], Node]) -> None:
        self.refused(provstore_storage, make(CALC), make(DATA), "inputs", "x", "unknown link type 'inputs'")

    @pytest.mark.parametrize("label", INVALID_LABELS, ids=repr)
    def test_invalid_labels(self, provstore_storage: StorageBackend, make: Callable[[str], Node], label: Any) -> None:
        self.refused(provstore_storage, make(CALC), make(DATA), "input_calc", label, "invalid link label")

    def test_identifier_labels(self, provstore_storage: StorageBackend, make: Callable[[str], Node]) -> None:
        calc = make(CALC)
        calc.add_incoming(make(DATA), "input_calc", "_nested__name_1")
        calc.add_incoming(make(DATA), "input_calc", "x" * 255)
        assert sorted(triple.link_label for triple in calc.get_incoming()) == ["_nested__name_1", "x" * 255]

    def test_duplicate_link(self, provstore_storage: StorageBackend, make: Callable[[str], Node]) -> None:
        data, work = make(DATA), make(WORK)
        work.add_incoming(data, "input_work", "x")
        self.refused(provstore_storage, work, data, "input_work", "x", "the link already exists")

    def test_input_labels_unique_per_target(
        self, provstore_storage: StorageBackend, make: Callable[[str], Node]
    ) -> None:
        calc = make(CALC)
        first = make(DATA)
        calc.add_incoming(first, "input_calc", "x")
        self.refused(provstore_storage, calc, make(DATA), "input_calc", "x", "incoming .* labelled 'x'")
        calc.add_incoming(make(DATA), "input_calc", "y")  # another label is fine
        make(CALC).add_incoming(first, "input_calc", "x")  # the same label on another target is fine

    def test_at_most_one_create(self, provstore_storage: StorageBackend, make: Callable[[str], Node]) -> None:
        data = make(DATA)
        data.add_incoming(make(CALC), "create", "result")
        self.refused(provstore_storage, data, make(CALC), "create", "other", "already has an incoming create link")

    @pytest.mark.parametrize(("link_type", "source_type"), [("create", CALC), ("return", WORK)])
    def test_output_labels_unique_per_source(
        self, provstore_storage: StorageBackend, make: Callable[[str], Node], link_type: str, source_type: str
    ) -> None:
        source = make(source_type)
        make(DATA).add_incoming(source, link_type, "result")
        self.refused(provstore_storage, make(DATA), source, link_type, "result", f"outgoing '{link_type}' link")

    @pytest.mark.parametrize("second", ["call_calc", "call_work"])
    def test_at_most_one_caller(
        self, provstore_storage: StorageBackend, make: Callable[[str], Node], second: str
    ) -> None:
        callee = make(CALC if second == "call_calc" else WORK)
        callee.add_incoming(make(WORK), second, "first")
        self.refused(provstore_storage, callee, make(WORK), second, "second", "already has an incoming call")

    def test_data_provenance_cycle(self, provstore_storage: StorageBackend, make: Callable[[str], Node]) -> None:
        data1, calc1, data2, calc2, data3 = make(DATA), make(CALC), make(DATA), make(CALC), make(DATA)
        calc1.add_incoming(data1, "input_calc", "x")
        data2.add_incoming(calc1, "create", "y")
        calc2.add_incoming(data2, "input_calc", "x")
        data3.add_incoming(calc2, "create", "y")
        self.refused(provstore_storage, calc1, data3, "input_calc", "z", "would create a cycle")
        self.refused(provstore_storage, calc1, data2, "input_calc", "z", "would create a cycle")
        make(CALC).add_incoming(data3, "input_calc", "x")  # a fresh calculation reading data3 is no cycle

    def test_return_links_do_not_count_for_cycles(
        self, provstore_storage: StorageBackend, make: Callable[[str], Node]
    ) -> None:
        data, work = make(DATA), make(WORK)
        work.add_incoming(data, "input_work", "x")
        data.add_incoming(work, "return", "same")  # workflows may return their inputs
        assert len(link_pairs(provstore_storage)) == 2

    def test_call_cycle(self, provstore_storage: StorageBackend, make: Callable[[str], Node]) -> None:
        outer, middle, inner = make(WORK), make(WORK), make(WORK)
        middle.add_incoming(outer, "call_work", "m")
        inner.add_incoming(middle, "call_work", "i")
        self.refused(provstore_storage, outer, inner, "call_work", "o", "would create a cycle")

    def test_cycle_detection_through_a_long_chain(
        self, provstore_storage: StorageBackend, make: Callable[[str], Node]
    ) -> None:
        first = previous = make(DATA)
        for index in range(30):
            calc = make(CALC)
            calc.add_incoming(previous, "input_calc", "x")
            previous = make(DATA)
            previous.add_incoming(calc, "create", f"out_{index}")
        last_calc = make(CALC)
        last_calc.add_incoming(previous, "input_calc", "x")
        self.refused(provstore_storage, first, last_calc, "create", "loop", "would create a cycle")

    def test_refused_link_inside_transaction_keeps_the_rest(
        self, provstore_storage: StorageBackend, make: Callable[[str], Node]
    ) -> None:
        data, calc = make(DATA), make(CALC)
        with provstore_storage.transaction():
            calc.add_incoming(data, "input_calc", "x")
            with pytest.raises(ValidationError):
                calc.add_incoming(data, "input_calc", "x")
        assert len(calc.get_incoming()) == 1

    def test_links_of_another_storage_are_refused(
        self,
        provstore_storage: StorageBackend,
        provstore_storage_factory: Callable[..., StorageBackend],
        provstore_storage_config_factory: Callable[[], dict[str, Any]],
        make: Callable[[str], Node],
    ) -> None:
        from provstore.config import Profile
        from provstore.testing.fixtures import KIT_USER_EMAIL

        config = {"default_user_email": KIT_USER_EMAIL, **provstore_storage_config_factory()}
        other = provstore_storage_factory(Profile("other", config))
        foreign = other.nodes.create(node_type=DATA).store()
        self.refused(provstore_storage, make(CALC), foreign, "input_calc", "x", "different storages")
