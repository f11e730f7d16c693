"""Groups: membership of many nodes at once, duplicates ignored, validation before any write, uniqueness."""

from __future__ import annotations

import pytest

from provstore.exceptions import IntegrityError, ValidationError
from provstore.storage import Group, Node, StorageBackend
from provstore.testing.storage.base import DATA, StorageTests, stored_field, writes

__all__ = ["GroupTests"]


def make_nodes(storage: StorageBackend, count: int) -> list[Node]:
    return [storage.nodes.create(node_type=DATA, label=str(index)).store() for index in range(count)]


@writes
class GroupTests(StorageTests):
    """Groups hold nodes: ``add_nodes``/``remove_nodes`` take one node or many, ignore repeats and non-members.

    Checks: membership is listed in insertion (pk) order and counted; adding needs stored nodes of this storage
    and a stored group, validated before anything is written; ``(label, type_string)`` is unique; the group's
    fields round-trip; deleting a group never deletes its nodes, and removing a node from a group neither.
    """

    @pytest.fixture
    def group(self, provstore_storage: StorageBackend) -> Group:
        return provstore_storage.groups.create(label="g", description="a group").store()

    def test_add_remove_and_list(self, provstore_storage: StorageBackend, group: Group) -> None:
        nodes = make_nodes(provstore_storage, 5)
        group.add_nodes(nodes[:3])
        assert group.count() == 3
        assert group.nodes == nodes[:3]
        group.add_nodes(nodes[1:] + nodes[1:])  # already there and repeated: ignored
        assert group.nodes == nodes
        group.add_nodes(nodes[0])  # a single node works too
        group.remove_nodes([nodes[0], nodes[4]])
        group.remove_nodes([nodes[0]])  # not a member: ignored
        assert group.nodes == nodes[1:4]
        assert provstore_storage.groups.get(group.pk).count() == 3
        assert provstore_storage.nodes.count() == 5  # removing never deletes nodes

    def test_many_members(self, provstore_storage: StorageBackend, group: Group) -> None:
        from provstore.storage import EntityTypes

        user = provstore_storage.users.create(email="members@x").store().pk
        pks = provstore_storage.bulk_insert(
            EntityTypes.NODE, [{"node_type": DATA, "user_id": user} for _ in range(1200)], allow_defaults=True
        )
        nodes = [provstore_storage.nodes.get(pk) for pk in pks]
        group.add_nodes(nodes)
        assert group.count() == 1200
        group.remove_nodes(nodes[::2])
        assert [node.pk for node in group.nodes] == pks[1::2]

    def test_membership_needs_stored_nodes_and_group(self, provstore_storage: StorageBackend, group: Group) -> None:
        stored = make_nodes(provstore_storage, 1)
        with pytest.raises(ValidationError, match="stored nodes"):
            group.add_nodes([*stored, provstore_storage.nodes.create(node_type=DATA)])
        with pytest.raises(ValidationError, match="stored nodes"):
            group.add_nodes([group])  # type: ignore[list-item]
        assert group.count() == 0  # validated before writing
        unstored = provstore_storage.groups.create(label="new")
        with pytest.raises(ValidationError, match="store the group"):
            unstored.add_nodes(stored)
        assert unstored.nodes == []
        assert unstored.count() == 0

    def test_label_and_type_unique(self, provstore_storage: StorageBackend, group: Group) -> None:
        with pytest.raises(IntegrityError):
            provstore_storage.groups.create(label="g").store()
        provstore_storage.groups.create(label="g", type_string="other").store()
        assert provstore_storage.groups.count() == 2

    def test_fields_round_trip(self, provstore_storage: StorageBackend, group: Group) -> None:
        assert stored_field(provstore_storage, "group", group.pk, "description") == "a group"
        group.label = "renamed"
        group.description = "changed"
        assert stored_field(provstore_storage, "group", group.pk, "label") == "renamed"
        assert provstore_storage.groups.get(label="renamed").description == "changed"

    def test_delete_group_keeps_nodes(self, provstore_storage: StorageBackend, group: Group) -> None:
        nodes = make_nodes(provstore_storage, 2)
        group.add_nodes(nodes)
        provstore_storage.groups.delete(group.pk)
        assert provstore_storage.nodes.count() == 2
        assert not group.is_stored
        assert provstore_storage.groups.count() == 0
