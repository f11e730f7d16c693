"""Ancestors and descendants: graph traversal in the store agrees with a Python breadth-first search."""

from __future__ import annotations

import pytest

from provstore.storage import EntityTypes, StorageBackend
from provstore.testing.dataset import LINKS, Dataset
from provstore.testing.storage.base import StorageTests, writes

__all__ = ["QueryTraversalTests", "TraversalScaleTests"]

PROVENANCE = ("create", "input_calc", "input_work")


def reachable(starts, upstream, link_types, max_depth=None):
    """Return the node names reachable from ``starts`` in 1..max_depth steps along ``link_types`` (Python BFS)."""
    found, frontier, depth = set(), set(starts), 0
    while frontier and (max_depth is None or depth < max_depth):
        depth += 1
        step = set()
        for source, target, kind, _ in LINKS:
            if kind in link_types:
                near, far = (target, source) if upstream else (source, target)
                if near in frontier and far not in found:
                    step.add(far)
        found |= step
        frontier = step
    return sorted(found)


CASES = [
    (["n2"], True, PROVENANCE, None),
    (["n2"], True, PROVENANCE, 1),
    (["n2"], True, PROVENANCE, 2),
    (["n2"], True, PROVENANCE, 3),
    (["n0"], False, PROVENANCE, None),
    (["n0"], False, PROVENANCE, 2),
    (["n0", "n3"], False, PROVENANCE, None),
    (["n5"], False, ("create",), None),
    (["n9"], False, PROVENANCE, None),
    # the 'return' link n2 → n0 closes a cycle: traversal must end, and n0 is then its own descendant
    (["n0"], False, (*PROVENANCE, "return"), None),
    (["n0"], False, (*PROVENANCE, "return"), 7),
    (["n2"], True, (*PROVENANCE, "return", "call_calc", "call_work"), None),
    (["n1"], True, ("return", "call_calc", "input_work"), None),
]


class QueryTraversalTests(StorageTests):
    """``ancestors``/``descendants`` select the nodes reachable through links of the given types.

    Checks: every case (depth limits, several start nodes, cycles through links of other types) matches a
    breadth-first search; the default link types are data provenance; results filter, project and join like
    any node; no start node gives no row; a long cycle and thousands of start pks end and find each node once.
    """

    @pytest.mark.parametrize("upstream_method", ["ancestors", "descendants"])
    def test_traversal_matches_breadth_first_search(
        self, provstore_dataset_storage: StorageBackend, provstore_dataset: Dataset, upstream_method: str
    ) -> None:
        """Every case (depth limits, several start nodes, cycles through wrong-typed links) matches the BFS."""
        storage, data = provstore_dataset_storage, provstore_dataset
        wrong = []
        for starts, upstream, link_types, depth in CASES:
            if upstream != (upstream_method == "ancestors"):
                continue
            method = getattr(storage.query(), upstream_method)
            pks = [data.nodes[name] for name in starts]
            got = data.names(method(pks, link_types=link_types, max_depth=depth, project="id").all(flat=True))
            expected = reachable(starts, upstream, link_types, depth)
            if got != expected:
                wrong.append(f"{upstream_method}({starts}, {link_types}, {depth}): got {got}, expected {expected}")
        assert not wrong, "\n".join(wrong)

    def test_traversal_defaults_filters_and_further_joins(
        self, provstore_dataset_storage: StorageBackend, provstore_dataset: Dataset
    ) -> None:
        """Default link types are data provenance; traversal results filter, project and join like any node."""
        storage, data = provstore_dataset_storage, provstore_dataset
        assert data.names(storage.query().ancestors(data.nodes["n2"], project="id").all(flat=True)) == [
            "n0",
            "n1",
            "n4",
            "n5",
        ]
        data_only = storage.query().ancestors(
            [data.nodes["n2"]], filters={"node_type": {"of_type": "data"}}, project=["label", "attributes.x"], tag="anc"
        )
        assert sorted(data_only.all()) == [("Alpha", 2), ("alpha", 3)]
        data_only.append("group", with_node="anc", project="label")
        assert sorted(data_only.all()) == [("Alpha", 2, "g1"), ("alpha", 3, "g1")]
        assert storage.query().descendants([], project="id").all() == []
        assert storage.query().descendants(data.nodes["n0"]).count() == 5


@writes
class TraversalScaleTests(StorageTests):
    """Traversal of a long cycle of links and of thousands of start nodes ends and finds every node once."""

    def test_traversal_of_a_long_cycle_and_many_start_nodes(self, provstore_storage: StorageBackend) -> None:
        """A 300-node ring of 'return' links and 2000 start pks: traversal ends and finds every node once."""
        storage = provstore_storage
        user = storage.bulk_insert(EntityTypes.USER, [{"email": "ring@example.org"}], allow_defaults=True)[0]
        rows = [{"node_type": "data.ring.", "label": f"r{i}", "user_id": user} for i in range(300)]
        pks = storage.bulk_insert(EntityTypes.NODE, rows, allow_defaults=True)
        ring = [
            {"input_id": pks[i], "output_id": pks[(i + 1) % 300], "type": "return", "label": "next"} for i in range(300)
        ]
        storage.bulk_insert(EntityTypes.LINK, ring)
        everything = storage.query().descendants([pks[0]], link_types=["return"], project="id").all(flat=True)
        assert sorted(everything) == sorted(pks)
        bounded = storage.query().descendants([pks[0]], link_types=["return"], max_depth=10, project="id")
        assert sorted(bounded.all(flat=True)) == sorted(pks[1:11])
        starts = [*pks[:5], *range(10**6, 10**6 + 1995)]
        upstream = storage.query().ancestors(starts, link_types="return", max_depth=1, project="id").all(flat=True)
        assert sorted(upstream) == sorted([pks[-1], *pks[:4]])
