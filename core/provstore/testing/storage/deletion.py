"""``delete_nodes_and_connections``: nodes go with every link, membership, comment and log attached to them."""

from __future__ import annotations

import itertools
import uuid

import pytest

from provstore.exceptions import IntegrityError, NotExistent, TransactionError
from provstore.storage import EntityTypes, StorageBackend
from provstore.testing.storage.base import CALC, DATA, StorageTests, link_pairs, node_row, user_row, writes

__all__ = ["DeletionTests"]


def _chain(storage: StorageBackend, user: int, size: int) -> tuple[list[int], int]:
    """Insert a chain of ``size`` nodes linked one to the next, a group holding all, a comment and a log on each."""
    pks = storage.bulk_insert(EntityTypes.NODE, [node_row(user) for _ in range(size)], allow_defaults=True)
    storage.bulk_insert(
        EntityTypes.LINK,
        [{"input_id": a, "output_id": b, "label": "l", "type": "return"} for a, b in itertools.pairwise(pks)],
    )
    (group,) = storage.bulk_insert(EntityTypes.GROUP, [{"label": "all", "user_id": user}], allow_defaults=True)
    storage.bulk_insert(EntityTypes.GROUP_NODE, [{"dbgroup_id": group, "dbnode_id": pk} for pk in pks])
    storage.bulk_insert(EntityTypes.COMMENT, [{"dbnode_id": pk, "user_id": user} for pk in pks], allow_defaults=True)
    storage.bulk_insert(
        EntityTypes.LOG, [{"dbnode_id": pk, "loggername": "x", "levelname": "INFO"} for pk in pks], allow_defaults=True
    )
    return pks, group


def _counts(storage: StorageBackend, group: int) -> tuple[int, int, int, int, int]:
    return (
        storage.nodes.count(),
        len(link_pairs(storage)),
        storage.groups.get(group).count(),
        storage.comments.count(),
        storage.logs.count(),
    )


@writes
class DeletionTests(StorageTests):
    """Deleting nodes removes them and everything attached to them, atomically, inside a transaction only.

    Checks: outside ``transaction()`` it raises ``TransactionError`` and deletes nothing; inside, the nodes and
    their links (both directions), group memberships, comments and logs are gone and the rest stays; it rolls
    back with its transaction or savepoint; unknown pks are ignored; a new node never inherits a deleted node's
    links; uuids of deleted nodes are free again; entities held in memory report they were deleted and refuse
    writes with ``NotExistent`` (nothing written to the repository for them either).
    """

    @pytest.fixture
    def user(self, provstore_storage: StorageBackend) -> int:
        return provstore_storage.bulk_insert(EntityTypes.USER, [user_row("owner@example.org")])[0]

    def test_needs_a_transaction(self, provstore_storage: StorageBackend, user: int) -> None:
        pks, group = _chain(provstore_storage, user, 3)
        with pytest.raises(TransactionError, match="transaction"):
            provstore_storage.delete_nodes_and_connections(pks)
        assert _counts(provstore_storage, group) == (3, 2, 3, 3, 3)

    def test_deletes_nodes_and_everything_attached(self, provstore_storage: StorageBackend, user: int) -> None:
        pks, group = _chain(provstore_storage, user, 10)
        with provstore_storage.transaction():
            provstore_storage.delete_nodes_and_connections(pks[:5])
        assert _counts(provstore_storage, group) == (5, 4, 5, 5, 5)
        assert [node.pk for node in provstore_storage.nodes] == pks[5:]
        assert [(a, b) for a, b, _, _ in link_pairs(provstore_storage)] == list(itertools.pairwise(pks[5:]))

    def test_links_in_both_directions_go(self, provstore_storage: StorageBackend, user: int) -> None:
        source, gone, kept = provstore_storage.bulk_insert(
            EntityTypes.NODE, [node_row(user), node_row(user, node_type=CALC), node_row(user)], allow_defaults=True
        )
        provstore_storage.bulk_insert(
            EntityTypes.LINK,
            [
                {"input_id": source, "output_id": gone, "label": "x", "type": "input_calc"},
                {"input_id": gone, "output_id": kept, "label": "y", "type": "create"},
            ],
        )
        with provstore_storage.transaction():
            provstore_storage.delete_nodes_and_connections([gone])
        assert provstore_storage.nodes.get(kept).get_incoming() == []
        assert provstore_storage.nodes.get(source).get_outgoing() == []
        assert link_pairs(provstore_storage) == []
        assert provstore_storage.query().ancestors([kept], link_types=["create"], project="id").all() == []

    def test_a_new_node_inherits_no_link(self, provstore_storage: StorageBackend, user: int) -> None:
        """The newest node is deleted; a node stored next (which may get its pk again) has no link at all."""
        source = provstore_storage.nodes.create(node_type=DATA).store()
        newest = provstore_storage.nodes.create(node_type=CALC).store()
        newest.add_incoming(source, "input_calc", "x")
        with provstore_storage.transaction():
            provstore_storage.delete_nodes_and_connections([newest.pk])
        fresh = provstore_storage.nodes.create(node_type=CALC).store()
        assert fresh.get_incoming() == []
        assert provstore_storage.nodes.get(source.pk).get_outgoing() == []
        fresh.add_incoming(source, "input_calc", "x")  # the label is free again
        assert len(fresh.get_incoming()) == 1

    def test_uuids_of_deleted_nodes_are_free_again(self, provstore_storage: StorageBackend, user: int) -> None:
        gone_uuid, kept_uuid = str(uuid.uuid4()), str(uuid.uuid4())
        gone, _ = provstore_storage.bulk_insert(
            EntityTypes.NODE, [node_row(user, gone_uuid), node_row(user, kept_uuid)], allow_defaults=True
        )
        with provstore_storage.transaction():
            provstore_storage.delete_nodes_and_connections([gone])
        provstore_storage.bulk_insert(EntityTypes.NODE, [node_row(user, gone_uuid)], allow_defaults=True)
        with pytest.raises(IntegrityError):
            provstore_storage.bulk_insert(EntityTypes.NODE, [node_row(user, kept_uuid)], allow_defaults=True)

    def test_rolled_back_with_the_transaction(self, provstore_storage: StorageBackend, user: int) -> None:
        pks, group = _chain(provstore_storage, user, 10)
        with pytest.raises(RuntimeError), provstore_storage.transaction():
            provstore_storage.delete_nodes_and_connections(pks)
            raise RuntimeError
        assert _counts(provstore_storage, group) == (10, 9, 10, 10, 10)

    def test_rolled_back_with_a_savepoint(self, provstore_storage: StorageBackend, user: int) -> None:
        pks, group = _chain(provstore_storage, user, 4)
        with provstore_storage.transaction():
            with pytest.raises(RuntimeError), provstore_storage.transaction():
                provstore_storage.delete_nodes_and_connections(pks[:2])
                raise RuntimeError
            provstore_storage.delete_nodes_and_connections(pks[3:])
        assert _counts(provstore_storage, group) == (3, 2, 3, 3, 3)

    def test_unknown_pks_are_ignored(self, provstore_storage: StorageBackend, user: int) -> None:
        pks, group = _chain(provstore_storage, user, 2)
        with provstore_storage.transaction():
            provstore_storage.delete_nodes_and_connections([pks[0], 10**9])
            provstore_storage.delete_nodes_and_connections([])
        assert _counts(provstore_storage, group) == (1, 0, 1, 1, 1)

    def test_large_deletion(self, provstore_storage: StorageBackend, user: int) -> None:
        pks, group = _chain(provstore_storage, user, 3000)
        with provstore_storage.transaction():
            provstore_storage.delete_nodes_and_connections(pks[:2999])
        assert _counts(provstore_storage, group) == (1, 0, 1, 1, 1)

    def test_held_nodes_comments_and_logs_know_they_were_deleted(self, provstore_storage: StorageBackend) -> None:
        storage = provstore_storage
        data = storage.nodes.create(node_type=DATA, label="in", attributes={"x": 1}).store()
        calc = storage.nodes.create(node_type=CALC).store()
        calc.add_incoming(data, "input_calc", "x")
        comment = storage.comments.create(node=data, content="on data").store()
        log = storage.logs.create(node=data, loggername="l", levelname="INFO").store()
        other = storage.comments.create(node=calc, content="on calc").store()
        group = storage.groups.create(label="g").store()
        group.add_nodes([data])
        copies = [
            storage.nodes.get(data.pk),
            calc.get_incoming()[0].node,
            group.nodes[0],
            next(node for node in storage.nodes if node.pk == data.pk),
        ]
        pk = data.pk
        with storage.transaction():
            storage.delete_nodes_and_connections([pk])
        assert not any(entity.is_stored for entity in (data, comment, log, *copies))
        assert data.pk is None
        assert repr(data).endswith(f"pk={pk} deleted>")
        assert (data.label, data.attributes) == ("in", {"x": 1})  # the last values stay readable
        assert other.is_stored and calc.is_stored
        other.content = "still writable"
        assert storage.comments.get(other.pk).content == "still writable"
        with pytest.raises(NotExistent):
            storage.nodes.get(pk)
        with pytest.raises(NotExistent, match="was deleted"):
            data.store()
        with pytest.raises(NotExistent, match="was deleted"):
            comment.content = "edited"
        assert storage.nodes.count() == 1
        assert group.count() == 0

    @pytest.mark.parametrize("write", ["store", "set_extra", "label", "put_object", "seal"])
    def test_writes_to_a_deleted_node_are_refused(self, provstore_storage: StorageBackend, write: str) -> None:
        node = provstore_storage.nodes.create(node_type=CALC).store()
        objects = sorted(provstore_storage.get_repository().list_objects()) if self.has_repository else []
        with provstore_storage.transaction():
            provstore_storage.delete_nodes_and_connections([node.pk])
        action = {
            "store": lambda: node.store(),
            "set_extra": lambda: node.set_extra("e", 3),
            "label": lambda: setattr(node, "label", "renamed"),
            "put_object": lambda: node.put_object_from_bytes(b"new", "new.txt"),
            "seal": lambda: node.seal(),
        }[write]
        with pytest.raises(NotExistent, match=r"node \d+ was deleted from the storage"):
            action()
        assert provstore_storage.nodes.count() == 0  # nothing was brought back
        if self.has_repository:
            assert sorted(provstore_storage.get_repository().list_objects()) == objects

    def test_rollback_restores_held_entities(self, provstore_storage: StorageBackend) -> None:
        node = provstore_storage.nodes.create(node_type=DATA, extras={"e": 2}).store()
        comment = provstore_storage.comments.create(node=node, content="c").store()
        pk = node.pk
        with pytest.raises(RuntimeError), provstore_storage.transaction():
            provstore_storage.delete_nodes_and_connections([pk])
            assert not node.is_stored and not comment.is_stored
            raise RuntimeError
        assert node.is_stored and node.pk == pk
        assert comment.is_stored
        node.set_extra("after", "rollback")
        assert provstore_storage.nodes.get(pk).extras == {"e": 2, "after": "rollback"}

    def test_deleted_node_cannot_be_referenced(self, provstore_storage: StorageBackend) -> None:
        data = provstore_storage.nodes.create(node_type=DATA).store()
        with provstore_storage.transaction():
            provstore_storage.delete_nodes_and_connections([data.pk])
        other = provstore_storage.nodes.create(node_type=CALC).store()
        with pytest.raises(Exception, match="must be a stored node"):
            other.add_incoming(data, "input_calc", "y")
        with pytest.raises(Exception, match="must be a stored node"):
            provstore_storage.comments.create(node=data)
