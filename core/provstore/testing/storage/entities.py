"""Entities and their fields: create, store, get, update, delete, count and iterate every kind of entity."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from provstore.config import Profile
from provstore.exceptions import IntegrityError, MultipleObjectsError, NotExistent, ValidationError
from provstore.storage import AuthInfo, Comment, Computer, Group, Log, Node, StorageBackend, User
from provstore.testing.storage.base import CALC, DATA, StorageTests, stored_field, writes

__all__ = ["EntityTests"]

INVALID_CREATES: dict[str, tuple[str, dict[str, Any], str]] = {
    "unknown field": ("users", {"email": "a@x", "colour": "red"}, "colour"),
    "missing email": ("users", {"first_name": "x"}, "email"),
    "missing node_type": ("nodes", {}, "node_type"),
    "empty node_type": ("nodes", {"node_type": ""}, "node_type"),
    "email not a string": ("users", {"email": 5}, "string"),
    "email too long": ("users", {"email": "x" * 255}, "254"),
    "naive ctime": ("nodes", {"node_type": DATA, "ctime": datetime.datetime(2020, 1, 1)}, "timezone"),
    "invalid uuid": ("nodes", {"node_type": DATA, "uuid": "nope"}, "UUID"),
    "label None": ("nodes", {"node_type": DATA, "label": None}, "None"),
    "NUL in label": ("nodes", {"node_type": DATA, "label": "a\x00b"}, "NUL"),
    "lone surrogate": ("nodes", {"node_type": DATA, "description": "\ud800"}, "unicode"),
    "attributes not a dict": ("nodes", {"node_type": DATA, "attributes": [1]}, "dict"),
    "computer metadata NaN": ("computers", {"label": "c", "metadata": {"a": float("nan")}}, "nan"),
    "log level too long": ("logs", {"loggername": "l", "levelname": "x" * 51}, "50"),
}
"""Case -> (collection, fields, text the one-line ValidationError must contain)."""


@writes
class EntityTests(StorageTests):
    """Every entity kind is created unstored, stored atomically, read back, changed, counted, iterated and deleted.

    Checks: the collections return the interfaces of :mod:`provstore.storage`; ``create`` validates fields
    (``ValidationError`` naming the field, nothing stored) and fills defaults (uuid, default user, empty texts and
    dicts, UTC timestamps); ``store`` returns the entity, assigns an int pk and is idempotent; ``get`` finds by pk,
    uuid and fields, raising ``NotExistent``/``MultipleObjectsError``/``ValidationError``; a stored entity's field
    change is written at once and an immutable field refuses with ``IntegrityError``; uniqueness violations
    raise ``IntegrityError`` and change nothing; deleting honours references and cascades.
    """

    def test_collections_implement_the_interfaces(self, provstore_storage: StorageBackend) -> None:
        storage = provstore_storage
        computer = storage.computers.create(label="c").store()
        node = storage.nodes.create(node_type=DATA).store()
        entities = [
            storage.users.create(email="u@x"),
            computer,
            storage.authinfos.create(computer=computer),
            storage.groups.create(label="g"),
            node,
            storage.comments.create(node=node, content="hi"),
            storage.logs.create(node=node, loggername="l", levelname="INFO"),
        ]
        for entity, interface in zip(entities, [User, Computer, AuthInfo, Group, Node, Comment, Log], strict=True):
            assert isinstance(entity, interface)

    def test_create_is_unstored_until_store(self, provstore_storage: StorageBackend) -> None:
        before = provstore_storage.users.count()
        user = provstore_storage.users.create(email="ada@example.org", first_name="Ada")
        assert not user.is_stored
        assert user.pk is None
        assert provstore_storage.users.count() == before
        assert user.store() is user
        assert provstore_storage.users.count() == before + 1
        assert user.is_stored
        assert isinstance(user.pk, int)
        assert user.store() is user  # no-op
        fetched = provstore_storage.users.get(email="ada@example.org")
        assert fetched == user
        assert (fetched.first_name, fetched.last_name) == ("Ada", "")

    def test_create_defaults(self, provstore_storage: StorageBackend) -> None:
        node = provstore_storage.nodes.create(node_type=DATA)
        assert uuid.UUID(node.uuid)
        assert node.user.email == provstore_storage.profile.default_user_email
        assert node.computer is None
        assert node.label == node.description == ""
        assert node.attributes == node.extras == node.repository_metadata == {}
        assert node.ctime.utcoffset() == datetime.timedelta(0)
        group = provstore_storage.groups.create(label="g")
        assert group.type_string == "core"
        assert group.user == node.user

    @pytest.mark.parametrize("case", list(INVALID_CREATES))
    def test_create_validation(self, provstore_storage: StorageBackend, case: str) -> None:
        collection, fields, text = INVALID_CREATES[case]
        if collection == "logs":
            fields = {**fields, "node": provstore_storage.nodes.create(node_type=DATA).store()}
        before = getattr(provstore_storage, collection).count()
        with pytest.raises(ValidationError, match=text) as info:
            getattr(provstore_storage, collection).create(**fields).store()
        assert "\n" not in str(info.value)
        assert getattr(provstore_storage, collection).count() == before

    def test_references_must_be_stored(self, provstore_storage: StorageBackend) -> None:
        with pytest.raises(ValidationError, match="stored user"):
            provstore_storage.nodes.create(node_type=DATA, user=provstore_storage.users.create(email="unstored@x"))
        with pytest.raises(ValidationError, match="stored node"):
            provstore_storage.comments.create(node=provstore_storage.nodes.create(node_type=DATA))
        assert provstore_storage.nodes.count() == 0

    def test_no_user_and_no_default_user(
        self, provstore_storage_config: dict[str, Any], provstore_storage_factory: Callable[..., StorageBackend]
    ) -> None:
        config = {key: value for key, value in provstore_storage_config.items() if key != "default_user_email"}
        storage = provstore_storage_factory(Profile("no-default-user", config))
        with pytest.raises(ValidationError, match="default user"):
            storage.nodes.create(node_type=DATA)
        user = storage.users.create(email="explicit@x").store()
        assert storage.nodes.create(node_type=DATA, user=user).store().user == user

    def test_timestamps_are_utc(self, provstore_storage: StorageBackend) -> None:
        moment = datetime.datetime(2020, 1, 2, 3, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
        node = provstore_storage.nodes.create(node_type=DATA, ctime=moment).store()
        ctime = stored_field(provstore_storage, "node", node.pk, "ctime")
        assert ctime == moment
        assert ctime.utcoffset() == datetime.timedelta(0)
        assert provstore_storage.nodes.get(node.pk).ctime == moment

    def test_update_of_stored_entity_is_written(self, provstore_storage: StorageBackend) -> None:
        computer = provstore_storage.computers.create(label="c", metadata={"cores": 4}).store()
        computer.hostname = "localhost"
        computer.metadata = {"cores": 8}
        assert stored_field(provstore_storage, "computer", computer.pk, "hostname") == "localhost"
        assert stored_field(provstore_storage, "computer", computer.pk, "metadata") == {"cores": 8}
        copy = provstore_storage.computers.get(computer.pk).metadata
        copy["cores"] = 1  # a copy: changing it changes nothing
        assert provstore_storage.computers.get(computer.pk).metadata == {"cores": 8}

    def test_user_fields_round_trip(self, provstore_storage: StorageBackend) -> None:
        fields = {"email": "ada@x", "first_name": "Ada", "last_name": "Lovelace", "institution": "Engines"}
        user = provstore_storage.users.create(**fields).store()
        for name, value in fields.items():
            assert stored_field(provstore_storage, "user", user.pk, name) == value
        user.institution = "Analytical"
        assert provstore_storage.users.get(email="ada@x").institution == "Analytical"

    def test_computer_fields_round_trip(self, provstore_storage: StorageBackend) -> None:
        fields = {
            "label": "daint",
            "hostname": "daint.cscs.ch",
            "description": "a machine",
            "scheduler_type": "slurm",
            "transport_type": "ssh",
            "metadata": {"cores": 12, "queues": ["debug"]},
        }
        computer = provstore_storage.computers.create(**fields).store()
        assert uuid.UUID(computer.uuid)
        for name, value in fields.items():
            assert stored_field(provstore_storage, "computer", computer.pk, name) == value

    def test_node_fields_round_trip(self, provstore_storage: StorageBackend) -> None:
        computer = provstore_storage.computers.create(label="c").store()
        node = provstore_storage.nodes.create(
            node_type=CALC, process_type="acme.calc", label="l", description="d", computer=computer
        ).store()
        assert stored_field(provstore_storage, "node", node.pk, "process_type") == "acme.calc"
        assert stored_field(provstore_storage, "node", node.pk, "description") == "d"
        assert provstore_storage.nodes.get(node.pk).computer == computer
        node.label = "relabelled"
        node.description = "changed"
        assert stored_field(provstore_storage, "node", node.pk, "label") == "relabelled"
        assert stored_field(provstore_storage, "node", node.pk, "description") == "changed"

    def test_invalid_json_field_changes_nothing(self, provstore_storage: StorageBackend) -> None:
        computer = provstore_storage.computers.create(label="c", metadata={"a": 1}).store()
        with pytest.raises(ValidationError, match="nan"):
            computer.metadata = {"b": float("nan")}
        assert stored_field(provstore_storage, "computer", computer.pk, "metadata") == {"a": 1}
        assert computer.metadata == {"a": 1}

    @pytest.mark.parametrize("field", ["uuid", "node_type", "ctime"])
    def test_immutable_fields_of_stored_nodes(self, provstore_storage: StorageBackend, field: str) -> None:
        node = provstore_storage.nodes.create(node_type=DATA)
        node.uuid = str(uuid.uuid4())  # free before store
        node.store()
        before = stored_field(provstore_storage, "node", node.pk, field)
        value = {"uuid": str(uuid.uuid4()), "node_type": "data.other.", "ctime": node.mtime}[field]
        with pytest.raises(IntegrityError, match=field):
            setattr(node, field, value)
        assert stored_field(provstore_storage, "node", node.pk, field) == before

    def test_unique_violation_is_integrity_error_and_writes_nothing(self, provstore_storage: StorageBackend) -> None:
        storage = provstore_storage
        storage.users.create(email="a@x").store()
        duplicate = storage.users.create(email="a@x")
        with pytest.raises(IntegrityError):
            duplicate.store()
        assert not duplicate.is_stored
        assert storage.query().append("user", filters={"email": "a@x"}).count() == 1
        other = storage.users.create(email="b@x").store()
        with pytest.raises(IntegrityError):
            other.email = "a@x"
        assert other.email == "b@x"  # the failed write is undone in memory too
        assert stored_field(storage, "user", other.pk, "email") == "b@x"

    @pytest.mark.parametrize("kind", ["computers", "nodes"])
    def test_unique_labels_and_uuids(self, provstore_storage: StorageBackend, kind: str) -> None:
        if kind == "computers":
            provstore_storage.computers.create(label="same").store()
            twin = provstore_storage.computers.create(label="same")
        else:
            first = provstore_storage.nodes.create(node_type=DATA).store()
            twin = provstore_storage.nodes.create(node_type=DATA, uuid=first.uuid)
        with pytest.raises(IntegrityError):
            twin.store()
        assert getattr(provstore_storage, kind).count() == 1

    def test_unique_violation_inside_transaction_rolls_back_only_that_write(
        self, provstore_storage: StorageBackend
    ) -> None:
        with provstore_storage.transaction():
            kept = provstore_storage.computers.create(label="c").store()
            with pytest.raises(IntegrityError):
                provstore_storage.computers.create(label="c").store()
            assert provstore_storage.in_transaction
        assert kept.is_stored
        assert provstore_storage.computers.count() == 1

    def test_store_in_rolled_back_transaction(self, provstore_storage: StorageBackend) -> None:
        with pytest.raises(RuntimeError), provstore_storage.transaction():
            user = provstore_storage.users.create(email="gone@x").store()
            assert user.is_stored
            raise RuntimeError
        assert not user.is_stored
        assert user.pk is None
        with pytest.raises(NotExistent):
            provstore_storage.users.get(email="gone@x")
        user.store()  # can be stored again afterwards
        assert provstore_storage.users.get(email="gone@x") == user

    def test_get(self, provstore_storage: StorageBackend) -> None:
        storage = provstore_storage
        node = storage.nodes.create(node_type=DATA, label="x").store()
        assert storage.nodes.get(node.pk) == node
        assert storage.nodes.get(uuid=node.uuid) == node
        assert storage.nodes.get(label="x", node_type=DATA) == node
        assert isinstance(storage.nodes.get(node.pk), Node)

    @pytest.mark.parametrize(
        ("criteria", "error"),
        [
            ({"pk": 12345}, NotExistent),
            ({"uuid": str(uuid.UUID(int=7))}, NotExistent),
            ({"label": "other"}, NotExistent),
            ({}, ValidationError),
            ({"attributes": {}}, ValidationError),
            ({"colour": "red"}, ValidationError),
        ],
        ids=["pk", "uuid", "field", "nothing", "json-field", "unknown-field"],
    )
    def test_get_errors(self, provstore_storage: StorageBackend, criteria: dict[str, Any], error: type) -> None:
        provstore_storage.nodes.create(node_type=DATA, label="x").store()
        with pytest.raises(error):
            provstore_storage.nodes.get(**criteria)

    def test_missing_is_a_key_error(self, provstore_storage: StorageBackend) -> None:
        with pytest.raises(KeyError):
            provstore_storage.users.get(email="nobody@example.org")

    def test_get_several_matches(self, provstore_storage: StorageBackend) -> None:
        provstore_storage.groups.create(label="g", type_string="a").store()
        provstore_storage.groups.create(label="g", type_string="b").store()
        with pytest.raises(MultipleObjectsError):
            provstore_storage.groups.get(label="g")
        assert provstore_storage.groups.get(label="g", type_string="b").type_string == "b"

    def test_get_or_create(self, provstore_storage: StorageBackend) -> None:
        user = provstore_storage.users.get_or_create(email="new@x")
        assert user.is_stored
        assert provstore_storage.users.get_or_create(email="new@x") == user
        assert provstore_storage.query().append("user", filters={"email": "new@x"}).count() == 1

    def test_count_and_iteration_by_pk(self, provstore_storage: StorageBackend) -> None:
        nodes = [provstore_storage.nodes.create(node_type=DATA, label=str(index)).store() for index in range(7)]
        assert provstore_storage.nodes.count() == 7
        assert list(provstore_storage.nodes) == sorted(nodes, key=lambda node: node.pk)
        assert [node.label for node in provstore_storage.nodes] == [str(index) for index in range(7)]

    def test_iteration_of_many_rows(self, provstore_storage: StorageBackend) -> None:
        """Iteration loads in batches: a few thousand rows come back once each, in pk order."""
        from provstore.storage import EntityTypes

        user = provstore_storage.users.create(email="many@x").store()
        rows = [{"node_type": DATA, "user_id": user.pk, "label": str(index)} for index in range(2500)]
        pks = provstore_storage.bulk_insert(EntityTypes.NODE, rows, allow_defaults=True)
        assert [node.pk for node in provstore_storage.nodes] == sorted(pks)

    def test_authinfo(self, provstore_storage: StorageBackend) -> None:
        storage = provstore_storage
        computer = storage.computers.create(label="c").store()
        info = storage.authinfos.create(computer=computer, auth_params={"password": "s3cret"}).store()
        assert info.user.email == storage.profile.default_user_email
        assert info.enabled is True
        assert storage.authinfos.get(user=info.user, computer=computer) == info
        assert "s3cret" not in repr(info)
        with pytest.raises(ValidationError):
            storage.authinfos.create(computer=computer, enabled="yes")
        with pytest.raises(IntegrityError):
            storage.authinfos.create(computer=computer).store()
        with pytest.raises(IntegrityError):
            info.computer = storage.computers.create(label="d").store()
        info.enabled = False
        assert stored_field(storage, "authinfo", info.pk, "enabled") is False

    def test_equality_and_hash(self, provstore_storage: StorageBackend) -> None:
        node = provstore_storage.nodes.create(node_type=DATA)
        other = provstore_storage.nodes.create(node_type=DATA)
        assert node != other
        assert node == node
        node.store()
        same = provstore_storage.nodes.get(node.pk)
        assert same == node
        assert hash(same) == hash(node)
        assert len({node, same, other}) == 2
        assert provstore_storage.users.get(email=node.user.email) != node

    # --------------------------------------------------------------------------------------------- deleting
    def test_delete(self, provstore_storage: StorageBackend) -> None:
        user = provstore_storage.users.create(email="a@x").store()
        provstore_storage.users.delete(user.pk)
        assert not user.is_stored
        with pytest.raises(NotExistent):
            provstore_storage.users.get(email="a@x")
        with pytest.raises(NotExistent):
            provstore_storage.users.delete(10**9)

    def test_delete_refused_while_nodes_refer(self, provstore_storage: StorageBackend) -> None:
        storage = provstore_storage
        user = storage.users.create(email="a@x").store()
        computer = storage.computers.create(label="c").store()
        storage.nodes.create(node_type=DATA, user=user, computer=computer).store()
        with pytest.raises(IntegrityError):
            storage.users.delete(user.pk)
        with pytest.raises(IntegrityError):
            storage.computers.delete(computer.pk)
        assert storage.users.get(email="a@x") == user
        assert storage.computers.count() == 1

    def test_delete_cascades(self, provstore_storage: StorageBackend) -> None:
        storage = provstore_storage
        computer = storage.computers.create(label="c").store()
        storage.authinfos.create(computer=computer).store()
        storage.computers.delete(computer.pk)
        assert storage.authinfos.count() == 0
        node = storage.nodes.create(node_type=DATA).store()
        storage.comments.create(node=node, content="x").store()
        storage.logs.create(node=node, loggername="l", levelname="INFO").store()
        group = storage.groups.create(label="g").store()
        group.add_nodes([node])
        storage.nodes.delete(node.pk)
        assert (storage.nodes.count(), storage.comments.count(), storage.logs.count()) == (0, 0, 0)
        assert group.count() == 0

    def test_delete_node_with_links_is_refused(self, provstore_storage: StorageBackend) -> None:
        data = provstore_storage.nodes.create(node_type=DATA).store()
        calc = provstore_storage.nodes.create(node_type=CALC).store()
        calc.add_incoming(data, "input_calc", "x")
        for node in (data, calc):
            with pytest.raises(IntegrityError, match="delete_nodes_and_connections"):
                provstore_storage.nodes.delete(node.pk)
        assert provstore_storage.nodes.count() == 2
        assert len(calc.get_incoming()) == 1

    def test_user_deletion_cascades_to_groups_comments_and_authinfos(self, provstore_storage: StorageBackend) -> None:
        storage = provstore_storage
        user = storage.users.create(email="leaving@example.org").store()
        computer = storage.computers.create(label="c").store()
        node = storage.nodes.create(node_type=DATA).store()  # the default user's: the user stays deletable
        group = storage.groups.create(label="g", user=user).store()
        group.add_nodes([node])
        comment = storage.comments.create(node=node, user=user, content="c").store()
        authinfo = storage.authinfos.create(computer=computer, user=user).store()
        kept = storage.comments.create(node=node, content="by the default user").store()
        storage.users.delete(user.pk)
        assert not any(entity.is_stored for entity in (user, group, comment, authinfo))
        assert node.is_stored and computer.is_stored and kept.is_stored
        assert storage.groups.count() == storage.authinfos.count() == 0
        assert storage.comments.count() == 1
        with pytest.raises(NotExistent, match="was deleted"):
            group.label = "renamed"

    def test_computer_deletion_takes_its_held_authinfos(self, provstore_storage: StorageBackend) -> None:
        computer = provstore_storage.computers.create(label="c").store()
        authinfo = provstore_storage.authinfos.create(computer=computer).store()
        provstore_storage.computers.delete(computer.pk)
        assert not computer.is_stored and not authinfo.is_stored
        with pytest.raises(NotExistent, match=r"authinfo \d+ was deleted"):
            authinfo.store()

    @pytest.mark.parametrize("kind", ["nodes", "groups", "comments", "logs", "computers", "users"])
    def test_held_entity_knows_it_was_deleted(self, provstore_storage: StorageBackend, kind: str) -> None:
        """After ``collection.delete(pk)`` the held entity is unstored, says so and refuses to be stored again."""
        storage = provstore_storage
        node = storage.nodes.create(node_type=DATA).store()
        entity = {
            "nodes": lambda: storage.nodes.create(node_type=DATA).store(),
            "groups": lambda: storage.groups.create(label="g").store(),
            "comments": lambda: storage.comments.create(node=node, content="c").store(),
            "logs": lambda: storage.logs.create(node=node, loggername="l", levelname="INFO").store(),
            "computers": lambda: storage.computers.create(label="c").store(),
            "users": lambda: storage.users.create(email="gone@example.org").store(),
        }[kind]()
        pk = entity.pk
        getattr(storage, kind).delete(pk)
        assert not entity.is_stored and entity.pk is None
        assert repr(entity).endswith(f"pk={pk} deleted>")
        with pytest.raises(NotExistent, match=rf"{entity.ENTITY_NAME} {pk} was deleted"):
            entity.store()
        with pytest.raises(NotExistent):
            getattr(storage, kind).get(pk)
