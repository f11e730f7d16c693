"""``bulk_insert`` and ``bulk_update``: new pks in input order, defaults, all-or-nothing, every entity type."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import pytest

from provstore.exceptions import IntegrityError
from provstore.storage import EntityTypes, StorageBackend
from provstore.testing.storage.base import (
    CALC,
    DATA,
    StorageTests,
    link_pairs,
    node_row,
    stored_field,
    user_row,
    writes,
)

__all__ = ["BulkTests"]


@writes
class BulkTests(StorageTests):
    """Bulk operations write many rows of one entity type in one transaction.

    Checks: ``bulk_insert`` returns one new int pk per row **in input order** (each pk holds its row's values),
    also for generators and for more rows than one chunk; it needs every field unless ``allow_defaults``, and
    fills the documented defaults then; an unknown field, a missing field or a constraint violation in any row
    raises ``IntegrityError`` and writes nothing; every ``EntityTypes`` member is accepted; ``bulk_update``
    changes exactly the given fields of the given rows, needs ``id`` and is all-or-nothing too.
    """

    def test_bulk_insert_returns_new_pks_in_order(self, provstore_storage: StorageBackend) -> None:
        emails = [f"user{index:02d}@example.org" for index in range(30)]
        pks = provstore_storage.bulk_insert(EntityTypes.USER, [user_row(email) for email in emails])
        assert len(pks) == len(emails)
        assert len(set(pks)) == len(pks)
        assert all(isinstance(pk, int) for pk in pks)
        for pk, email in zip(pks, emails, strict=True):
            assert stored_field(provstore_storage, "user", pk, "email") == email
        more = provstore_storage.bulk_insert(EntityTypes.USER, [user_row("later@example.org")])
        assert more[0] not in pks

    def test_pk_order_with_unsorted_values(self, provstore_storage: StorageBackend) -> None:
        """The rows' values are in no particular order: the pks still follow the input."""
        user = provstore_storage.users.create(email="order@x").store().pk
        labels = [f"{(index * 37) % 101:03d}" for index in range(60)]
        rows = [node_row(user, label=label) for label in labels]
        pks = provstore_storage.bulk_insert(EntityTypes.NODE, rows, allow_defaults=True)
        assert [stored_field(provstore_storage, "node", pk, "label") for pk in pks] == labels

    def test_bulk_insert_of_a_generator_larger_than_a_chunk(self, provstore_storage: StorageBackend) -> None:
        user = provstore_storage.users.create(email="many@x").store().pk
        count = 12_000
        pks = provstore_storage.bulk_insert(
            EntityTypes.NODE, (node_row(user, label=str(index)) for index in range(count)), allow_defaults=True
        )
        assert len(pks) == len(set(pks)) == count
        for index in (0, 1, 4999, 5000, 9999, count - 1):
            assert stored_field(provstore_storage, "node", pks[index], "label") == str(index)
        assert provstore_storage.nodes.count() == count

    def test_bulk_insert_of_nothing(self, provstore_storage: StorageBackend) -> None:
        assert provstore_storage.bulk_insert(EntityTypes.USER, []) == []
        assert provstore_storage.bulk_insert(EntityTypes.NODE, iter([]), allow_defaults=True) == []

    def test_bulk_insert_duplicate_raises_integrity_error(self, provstore_storage: StorageBackend) -> None:
        provstore_storage.bulk_insert(EntityTypes.USER, [user_row("twice@example.org")])
        with pytest.raises(IntegrityError):
            provstore_storage.bulk_insert(EntityTypes.USER, [user_row("twice@example.org")])

    def test_bulk_insert_duplicate_within_the_rows_writes_nothing(self, provstore_storage: StorageBackend) -> None:
        rows = [user_row("one@example.org"), user_row("two@example.org"), user_row("one@example.org")]
        with pytest.raises(IntegrityError):
            provstore_storage.bulk_insert(EntityTypes.USER, rows)
        assert provstore_storage.query().append("user", filters={"email": {"like": "%@example.org"}}).count() == 0

    def test_bulk_insert_needs_every_field_unless_defaults_allowed(self, provstore_storage: StorageBackend) -> None:
        with pytest.raises(IntegrityError):
            provstore_storage.bulk_insert(EntityTypes.USER, [{"email": "partial@example.org"}])
        (pk,) = provstore_storage.bulk_insert(EntityTypes.USER, [{"email": "partial@example.org"}], allow_defaults=True)
        assert stored_field(provstore_storage, "user", pk, "first_name") == ""

    def test_node_defaults(self, provstore_storage: StorageBackend) -> None:
        user = provstore_storage.users.create(email="defaults@x").store().pk
        (pk,) = provstore_storage.bulk_insert(
            EntityTypes.NODE, [{"node_type": DATA, "user_id": user}], allow_defaults=True
        )
        node = provstore_storage.nodes.get(pk)
        assert uuid.UUID(node.uuid)
        assert (node.label, node.description, node.attributes, node.extras) == ("", "", {}, {})
        assert node.ctime.utcoffset() == datetime.timedelta(0)
        assert node.user.pk == user

    @pytest.mark.parametrize("position", ["first", "last"])
    def test_bulk_insert_with_an_invalid_row_writes_nothing(
        self, provstore_storage: StorageBackend, position: str
    ) -> None:
        good = [user_row(f"good{index}@example.org") for index in range(3)]
        bad = {**user_row("bad@example.org"), "no_such_field": 1}
        rows = [bad, *good] if position == "first" else [*good, bad]
        with pytest.raises(IntegrityError):
            provstore_storage.bulk_insert(EntityTypes.USER, rows)
        assert provstore_storage.query().append("user", filters={"email": {"like": "good%"}}).count() == 0

    def test_bulk_insert_refuses_an_id(self, provstore_storage: StorageBackend) -> None:
        with pytest.raises(IntegrityError):
            provstore_storage.bulk_insert(EntityTypes.USER, [{**user_row("with-id@x"), "id": 12345}])

    def test_bulk_insert_of_every_entity_type(self, provstore_storage: StorageBackend) -> None:
        storage = provstore_storage
        (user,) = storage.bulk_insert(EntityTypes.USER, [user_row("owner@example.org")])
        (computer,) = storage.bulk_insert(
            EntityTypes.COMPUTER, [{"label": "c", "hostname": "h", "metadata": {"a": 1}}], allow_defaults=True
        )
        (authinfo,) = storage.bulk_insert(
            EntityTypes.AUTHINFO,
            [{"aiidauser_id": user, "dbcomputer_id": computer, "auth_params": {"port": 22}}],
            allow_defaults=True,
        )
        data, calc = storage.bulk_insert(
            EntityTypes.NODE,
            [node_row(user), node_row(user, node_type=CALC, dbcomputer_id=computer)],
            allow_defaults=True,
        )
        storage.bulk_insert(
            EntityTypes.LINK, [{"input_id": data, "output_id": calc, "label": "x", "type": "input_calc"}]
        )
        (group,) = storage.bulk_insert(EntityTypes.GROUP, [{"label": "g", "user_id": user}], allow_defaults=True)
        storage.bulk_insert(EntityTypes.GROUP_NODE, [{"dbgroup_id": group, "dbnode_id": data}])
        (comment,) = storage.bulk_insert(
            EntityTypes.COMMENT, [{"dbnode_id": data, "user_id": user, "content": "c"}], allow_defaults=True
        )
        (log,) = storage.bulk_insert(
            EntityTypes.LOG,
            [{"dbnode_id": calc, "loggername": "l", "levelname": "INFO", "message": "m"}],
            allow_defaults=True,
        )
        assert storage.authinfos.get(authinfo).auth_params == {"port": 22}
        assert storage.nodes.get(calc).computer.pk == computer
        assert link_pairs(storage) == [(data, calc, "input_calc", "x")]
        assert [node.pk for node in storage.groups.get(group).nodes] == [data]
        assert storage.comments.get(comment).content == "c"
        assert storage.logs.get(log).message == "m"

    def test_bulk_update_changes_rows(self, provstore_storage: StorageBackend) -> None:
        (pk,) = provstore_storage.bulk_insert(EntityTypes.USER, [user_row("old@example.org")])
        provstore_storage.bulk_update(EntityTypes.USER, [{"id": pk, "email": "new@example.org"}])
        assert stored_field(provstore_storage, "user", pk, "email") == "new@example.org"
        assert stored_field(provstore_storage, "user", pk, "first_name") == "Ada"  # untouched
        provstore_storage.bulk_insert(EntityTypes.USER, [user_row("old@example.org")])  # the old address is free
        with pytest.raises(IntegrityError):
            provstore_storage.bulk_insert(EntityTypes.USER, [user_row("new@example.org")])

    def test_bulk_update_of_many_rows_and_fields(self, provstore_storage: StorageBackend) -> None:
        user = provstore_storage.users.create(email="upd@x").store().pk
        pks = provstore_storage.bulk_insert(EntityTypes.NODE, [node_row(user) for _ in range(50)], allow_defaults=True)
        updates: list[dict[str, Any]] = [
            {"id": pk, "label": f"l{index}", "extras": {"i": index}} for index, pk in enumerate(pks) if index % 2
        ]
        provstore_storage.bulk_update(EntityTypes.NODE, updates)
        for index, pk in enumerate(pks):
            expected = (f"l{index}", {"i": index}) if index % 2 else ("n", {})
            assert (
                provstore_storage.query().append("node", filters={"id": pk}, project=["label", "extras"]).one()
                == expected
            )

    def test_bulk_update_without_id_raises(self, provstore_storage: StorageBackend) -> None:
        provstore_storage.bulk_insert(EntityTypes.USER, [user_row("someone@example.org")])
        with pytest.raises(IntegrityError):
            provstore_storage.bulk_update(EntityTypes.USER, [{"email": "other@example.org"}])

    def test_bulk_update_with_an_invalid_row_writes_nothing(self, provstore_storage: StorageBackend) -> None:
        first, second = provstore_storage.bulk_insert(
            EntityTypes.USER, [user_row("a@example.org"), user_row("b@example.org")]
        )
        rows = [{"id": first, "email": "renamed@example.org"}, {"id": second, "no_such_field": 1}]
        with pytest.raises(IntegrityError):
            provstore_storage.bulk_update(EntityTypes.USER, rows)
        assert stored_field(provstore_storage, "user", first, "email") == "a@example.org"

    def test_bulk_update_of_nothing(self, provstore_storage: StorageBackend) -> None:
        (pk,) = provstore_storage.bulk_insert(EntityTypes.USER, [user_row("same@example.org")])
        provstore_storage.bulk_update(EntityTypes.USER, [])
        assert stored_field(provstore_storage, "user", pk, "email") == "same@example.org"
