"""Transactions: the outermost level commits, nested levels are savepoints, an error undoes only its own level."""

from __future__ import annotations

import pytest

from provstore.exceptions import IntegrityError
from provstore.storage import EntityTypes, StorageBackend
from provstore.testing.storage.base import DATA, StorageTests, user_row, writes

__all__ = ["TransactionTests"]


def _missing(storage: StorageBackend, *keys: str) -> list[str]:
    """Return those of ``keys`` that are not set as global variables."""
    missing = []
    for key in keys:
        try:
            storage.get_global_variable(key)
        except KeyError:
            missing.append(key)
    return missing


@writes
class TransactionTests(StorageTests):
    """``transaction()`` nests: the outermost block commits, an inner block is a savepoint.

    Checks: ``in_transaction`` follows the blocks; an exception rolls back exactly its own level (and every level
    inside it), is re-raised, and leaves the outer levels usable; siblings after a failed savepoint commit; a
    failure at the outermost level discards everything including committed inner levels; entity stores, field
    changes, ``bulk_insert``/``bulk_update`` and global variables all join the open transaction; a constraint
    failing when the transaction ends is one ``IntegrityError`` and the storage stays usable.
    """

    def test_outermost_commits(self, provstore_storage: StorageBackend) -> None:
        assert not provstore_storage.in_transaction
        with provstore_storage.transaction():
            assert provstore_storage.in_transaction
            provstore_storage.set_global_variable("a", 1)
        assert not provstore_storage.in_transaction
        assert provstore_storage.get_global_variable("a") == 1

    def test_error_rolls_back_and_reraises(self, provstore_storage: StorageBackend) -> None:
        with pytest.raises(RuntimeError, match="boom"), provstore_storage.transaction():
            provstore_storage.set_global_variable("rolled-back", 1)
            raise RuntimeError("boom")
        assert not provstore_storage.in_transaction
        assert _missing(provstore_storage, "rolled-back") == ["rolled-back"]

    def test_error_rolls_back_committed_inner_levels(self, provstore_storage: StorageBackend) -> None:
        with pytest.raises(ZeroDivisionError), provstore_storage.transaction():
            provstore_storage.set_global_variable("a", 1)
            with provstore_storage.transaction():
                provstore_storage.set_global_variable("b", 2)
            1 / 0  # noqa: B018
        assert _missing(provstore_storage, "a", "b") == ["a", "b"]

    def test_nested_error_rolls_back_only_its_savepoint(self, provstore_storage: StorageBackend) -> None:
        with provstore_storage.transaction():
            provstore_storage.set_global_variable("outer", 1)
            with pytest.raises(RuntimeError, match="inner"), provstore_storage.transaction():
                provstore_storage.set_global_variable("inner", 2)
                raise RuntimeError("inner")
            assert provstore_storage.in_transaction
            with provstore_storage.transaction():
                provstore_storage.set_global_variable("sibling", 3)
        assert provstore_storage.get_global_variable("outer") == 1
        assert provstore_storage.get_global_variable("sibling") == 3
        assert _missing(provstore_storage, "inner") == ["inner"]

    def test_nested_rollback_of_entities(self, provstore_storage: StorageBackend) -> None:
        with provstore_storage.transaction():
            kept = provstore_storage.nodes.create(node_type=DATA, label="kept").store()
            with pytest.raises(RuntimeError), provstore_storage.transaction():
                provstore_storage.nodes.create(node_type=DATA, label="gone").store()
                kept.label = "changed in the savepoint"
                raise RuntimeError
        labels = provstore_storage.query().append("node", project="label").all(flat=True)
        assert labels == ["kept"]

    def test_three_levels(self, provstore_storage: StorageBackend) -> None:
        with provstore_storage.transaction():
            provstore_storage.set_global_variable("l1", 1)
            with provstore_storage.transaction():
                provstore_storage.set_global_variable("l2", 2)
                with pytest.raises(ValueError), provstore_storage.transaction():
                    provstore_storage.set_global_variable("l3", 3)
                    raise ValueError
                provstore_storage.set_global_variable("l2b", 22)
        assert [provstore_storage.get_global_variable(k) for k in ("l1", "l2", "l2b")] == [1, 2, 22]
        assert _missing(provstore_storage, "l3") == ["l3"]

    def test_savepoint_rollback_restores_an_overwritten_value(self, provstore_storage: StorageBackend) -> None:
        provstore_storage.set_global_variable("value", "before")
        with provstore_storage.transaction():
            with pytest.raises(RuntimeError), provstore_storage.transaction():
                provstore_storage.set_global_variable("value", "inside")
                raise RuntimeError
            assert provstore_storage.get_global_variable("value") == "before"
        assert provstore_storage.get_global_variable("value") == "before"

    def test_entity_store_joins_the_open_transaction(self, provstore_storage: StorageBackend) -> None:
        with pytest.raises(RuntimeError), provstore_storage.transaction():
            provstore_storage.users.create(email="undone@example.org").store()
            raise RuntimeError("undo")
        assert provstore_storage.query().append("user", filters={"email": "undone@example.org"}).count() == 0

    def test_field_change_joins_the_open_transaction(self, provstore_storage: StorageBackend) -> None:
        node = provstore_storage.nodes.create(node_type=DATA, label="before").store()
        with pytest.raises(RuntimeError), provstore_storage.transaction():
            node.label = "after"
            node.set_extra("e", 1)
            raise RuntimeError
        row = provstore_storage.query().append("node", filters={"id": node.pk}, project=["label", "extras"]).one()
        assert row == ("before", {})

    def test_bulk_insert_joins_the_open_transaction(self, provstore_storage: StorageBackend) -> None:
        with pytest.raises(RuntimeError), provstore_storage.transaction():
            provstore_storage.bulk_insert(EntityTypes.USER, [user_row("rolled@back.org")])
            raise RuntimeError("undo")
        # the email is unique: inserting it again only works if the first insert was rolled back
        assert len(provstore_storage.bulk_insert(EntityTypes.USER, [user_row("rolled@back.org")])) == 1

    def test_bulk_update_joins_a_savepoint(self, provstore_storage: StorageBackend) -> None:
        (pk,) = provstore_storage.bulk_insert(EntityTypes.USER, [user_row("kept@example.org")])
        with provstore_storage.transaction():
            with pytest.raises(RuntimeError), provstore_storage.transaction():
                provstore_storage.bulk_update(EntityTypes.USER, [{"id": pk, "first_name": "Changed"}])
                raise RuntimeError
        assert provstore_storage.users.get(pk).first_name == "Ada"

    def test_constraint_failing_in_a_transaction_is_one_integrity_error(
        self, provstore_storage: StorageBackend
    ) -> None:
        """A link to nodes that do not exist fails (at once or when the transaction ends); nothing of it stays."""
        link = {"input_id": 10**9, "output_id": 10**9 + 1, "label": "l", "type": "create"}
        with pytest.raises(IntegrityError), provstore_storage.transaction():
            provstore_storage.set_global_variable("with-it", 1)
            provstore_storage.bulk_insert(EntityTypes.LINK, [link])
        assert not provstore_storage.in_transaction
        assert _missing(provstore_storage, "with-it") == ["with-it"]
        provstore_storage.set_global_variable("after", 1)  # the storage is usable again
        assert provstore_storage.get_global_variable("after") == 1
