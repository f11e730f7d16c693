"""Reusable behavioural tests of a storage backend, written against the public abstract API only.

Subclass :class:`StorageBackendTests` in a plugin's test suite and set ``backend``; the fixtures of the
``provstore`` pytest plugin build a profile for it (override ``storage_profile_config`` when the backend
needs settings other than paths). Capability attributes turn off the tests a backend cannot pass by design.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import SecretStr

from provstore.config import Profile
from provstore.exceptions import (
    ClosedStorage,
    IncompatibleStorageSchema,
    IntegrityError,
    NotExistent,
    StorageMigrationError,
    TransactionError,
    UnreachableStorage,
)
from provstore.plugins import resolve_storage_class
from provstore.repository import AbstractRepositoryBackend
from provstore.storage import EntityTypes, StorageBackend

__all__ = ["StorageBackendTests", "requires"]


def requires(*capabilities: str) -> pytest.MarkDecorator:
    """Mark a conformance test as needing backend capabilities (class attributes that must be true)."""
    return pytest.mark.provstore_requires(*capabilities)


def user_row(email: str) -> dict[str, Any]:
    """Return a complete user row for :meth:`StorageBackend.bulk_insert` (every field but ``id``)."""
    return {"email": email, "first_name": "Ada", "last_name": "Lovelace", "institution": "Analytical Engines"}


def node_row(user_id: int, node_uuid: str | None = None, node_type: str = "data.core.Data.") -> dict[str, Any]:
    """Return a minimal node row (to be inserted with ``allow_defaults=True``)."""
    return {"uuid": node_uuid or str(uuid.uuid4()), "node_type": node_type, "user_id": user_id, "label": "n"}


_CHILD_WRITER = """
import json, sys
from provstore import open_storage
from provstore.config import Profile
storage = open_storage(Profile("conformance", json.load(sys.stdin)))
storage.set_global_variable("written-by-child", {"pid": 1})
storage.close()
"""


class StorageBackendTests:
    """Behaviour every storage backend must have; set ``backend`` and the capability flags in a subclass."""

    backend: ClassVar[str]
    """Name of the storage backend under test, e.g. ``"acme.mystore"``."""

    persistent: ClassVar[bool] = True
    """Data survives closing the storage, and a profile exists before it is initialised (False: in-memory)."""

    supports_concurrent_processes: ClassVar[bool] = True
    """Several processes can open the same profile at once and see each other's committed writes."""

    has_repository: ClassVar[bool] = True
    """The storage holds files: :meth:`StorageBackend.get_repository` returns a working repository."""

    @pytest.fixture(autouse=True)
    def _provstore_isolation(self, provstore_config_dir: Path) -> None:
        """Give every conformance test its own configuration folder."""

    @staticmethod
    def fresh_profile(storage_profile_config: dict[str, Any]) -> Profile:
        """Return a profile on ``storage_profile_config``: uninitialised unless the test also uses ``storage``."""
        return Profile("conformance", storage_profile_config)

    # ------------------------------------------------------------------------------------- configuration
    def test_configuration_fields_are_described(self, storage_profile_config: dict[str, Any]) -> None:
        """``provstore profile setup`` turns each field into an option whose help is the field's description."""
        cls = resolve_storage_class(self.fresh_profile(storage_profile_config))
        undocumented = [name for name, field in cls.Configuration.model_fields.items() if not field.description]
        assert not undocumented, f"Configuration fields without a description: {undocumented}"

    # ------------------------------------------------------------------------------------------ lifecycle
    def test_open_storage_is_open(self, storage: StorageBackend) -> None:
        assert not storage.is_closed
        assert storage.profile.storage_backend == self.backend
        assert storage.profile.name in str(storage)

    def test_close_is_idempotent(self, storage: StorageBackend) -> None:
        storage.close()
        assert storage.is_closed
        storage.close()
        assert storage.is_closed

    def test_closed_storage_refuses_use(self, storage: StorageBackend) -> None:
        storage.close()
        with pytest.raises(ClosedStorage):
            storage.get_global_variable("anything")

    def test_context_manager_closes(self, storage: StorageBackend) -> None:
        with storage as entered:
            assert entered is storage
        assert storage.is_closed

    # --------------------------------------------------------------------------------------- schema version
    def test_version_head_is_a_string(self, storage: StorageBackend) -> None:
        head = type(storage).version_head()
        assert isinstance(head, str)
        assert head

    def test_initialised_profile_is_at_head(self, storage: StorageBackend) -> None:
        cls = type(storage)
        assert cls.version_profile(storage.profile) == cls.version_head()

    @requires("persistent")
    def test_initialise_again_is_a_noop(
        self, storage: StorageBackend, storage_factory: Callable[..., StorageBackend]
    ) -> None:
        storage.set_global_variable("kept", 1)
        storage.close()
        assert resolve_storage_class(storage.profile).initialise(storage.profile) is False
        assert storage_factory(storage.profile, initialise=False).get_global_variable("kept") == 1

    @requires("persistent")
    def test_migrate_at_head_keeps_data(
        self, storage: StorageBackend, storage_factory: Callable[..., StorageBackend]
    ) -> None:
        storage.set_global_variable("kept", "yes")
        storage.close()
        cls = resolve_storage_class(storage.profile)
        cls.migrate(storage.profile)
        assert cls.version_profile(storage.profile) == cls.version_head()
        assert storage_factory(storage.profile, initialise=False).get_global_variable("kept") == "yes"

    @requires("persistent")
    def test_uninitialised_profile_has_no_version(self, storage_profile_config: dict[str, Any]) -> None:
        profile = self.fresh_profile(storage_profile_config)
        assert resolve_storage_class(profile).version_profile(profile) is None

    @requires("persistent")
    def test_migrate_uninitialised_raises(self, storage_profile_config: dict[str, Any]) -> None:
        profile = self.fresh_profile(storage_profile_config)
        with pytest.raises(StorageMigrationError):
            resolve_storage_class(profile).migrate(profile)

    @requires("persistent")
    def test_open_uninitialised_raises(
        self, storage_profile_config: dict[str, Any], storage_factory: Callable[..., StorageBackend]
    ) -> None:
        profile = self.fresh_profile(storage_profile_config)
        with pytest.raises((UnreachableStorage, IncompatibleStorageSchema)):
            storage_factory(profile, initialise=False)

    @requires("persistent")
    def test_initialise_reset_removes_data(
        self, storage: StorageBackend, storage_factory: Callable[..., StorageBackend]
    ) -> None:
        storage.set_global_variable("gone", 1)
        profile = storage.profile
        storage.close()
        assert resolve_storage_class(profile).initialise(profile, reset=True) is True
        reopened = storage_factory(profile, initialise=False)
        with pytest.raises(KeyError):
            reopened.get_global_variable("gone")

    # ------------------------------------------------------------------------------- persistence, processes
    @requires("persistent")
    def test_data_survives_reopening(
        self, storage: StorageBackend, storage_factory: Callable[..., StorageBackend]
    ) -> None:
        storage.set_global_variable("kept", [1, 2, 3])
        storage.close()
        reopened = storage_factory(storage.profile, initialise=False)
        assert reopened.get_global_variable("kept") == [1, 2, 3]

    @requires("persistent", "supports_concurrent_processes")
    def test_write_from_another_process_is_visible(self, storage: StorageBackend) -> None:
        storage.set_global_variable("written-by-parent", True)
        child = subprocess.run(
            [sys.executable, "-c", _CHILD_WRITER],
            input=json.dumps(storage.profile.dictionary),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert child.returncode == 0, child.stderr
        assert storage.get_global_variable("written-by-child") == {"pid": 1}

    # ------------------------------------------------------------------------------------------ transactions
    def test_transaction_commits(self, storage: StorageBackend) -> None:
        assert not storage.in_transaction
        with storage.transaction():
            assert storage.in_transaction
            storage.set_global_variable("committed", 1)
        assert not storage.in_transaction
        assert storage.get_global_variable("committed") == 1

    def test_transaction_rolls_back_and_reraises(self, storage: StorageBackend) -> None:
        with pytest.raises(RuntimeError, match="boom"), storage.transaction():
            storage.set_global_variable("rolled-back", 1)
            raise RuntimeError("boom")
        assert not storage.in_transaction
        with pytest.raises(KeyError):
            storage.get_global_variable("rolled-back")

    def test_nested_transaction_rolls_back_to_its_savepoint(self, storage: StorageBackend) -> None:
        with storage.transaction():
            storage.set_global_variable("outer", 1)
            with pytest.raises(RuntimeError), storage.transaction():
                storage.set_global_variable("inner", 2)
                raise RuntimeError("inner failure")
            assert storage.in_transaction
            storage.set_global_variable("after", 3)
        assert storage.get_global_variable("outer") == 1
        assert storage.get_global_variable("after") == 3
        with pytest.raises(KeyError):
            storage.get_global_variable("inner")

    def test_outer_rollback_discards_committed_inner(self, storage: StorageBackend) -> None:
        with pytest.raises(RuntimeError), storage.transaction():
            with storage.transaction():
                storage.set_global_variable("inner", 1)
            raise RuntimeError("outer failure")
        with pytest.raises(KeyError):
            storage.get_global_variable("inner")

    def test_bulk_insert_joins_the_open_transaction(self, storage: StorageBackend) -> None:
        with pytest.raises(RuntimeError), storage.transaction():
            storage.bulk_insert(EntityTypes.USER, [user_row("rolled@back.org")])
            raise RuntimeError("undo")
        # the email is unique: inserting it again only works if the first insert was rolled back
        assert len(storage.bulk_insert(EntityTypes.USER, [user_row("rolled@back.org")])) == 1

    # --------------------------------------------------------------------------------------- bulk operations
    def test_bulk_insert_returns_new_pks_in_order(self, storage: StorageBackend) -> None:
        emails = [f"user{index}@example.org" for index in range(5)]
        pks = storage.bulk_insert(EntityTypes.USER, [user_row(email) for email in emails])
        assert len(pks) == len(emails)
        assert len(set(pks)) == len(pks)
        assert all(isinstance(pk, int) for pk in pks)
        more = storage.bulk_insert(EntityTypes.USER, [user_row("later@example.org")])
        assert more[0] not in pks

    def test_bulk_insert_of_nothing(self, storage: StorageBackend) -> None:
        assert storage.bulk_insert(EntityTypes.USER, []) == []

    def test_bulk_insert_duplicate_raises_integrity_error(self, storage: StorageBackend) -> None:
        storage.bulk_insert(EntityTypes.USER, [user_row("twice@example.org")])
        with pytest.raises(IntegrityError):
            storage.bulk_insert(EntityTypes.USER, [user_row("twice@example.org")])

    def test_bulk_insert_needs_every_field_unless_defaults_allowed(self, storage: StorageBackend) -> None:
        with pytest.raises(IntegrityError):
            storage.bulk_insert(EntityTypes.USER, [{"email": "partial@example.org"}])
        pks = storage.bulk_insert(EntityTypes.USER, [{"email": "partial@example.org"}], allow_defaults=True)
        assert len(pks) == 1

    def test_bulk_insert_with_an_invalid_row_writes_nothing(self, storage: StorageBackend) -> None:
        rows = [user_row("first@example.org"), {**user_row("second@example.org"), "no_such_field": 1}]
        with pytest.raises(IntegrityError):
            storage.bulk_insert(EntityTypes.USER, rows)
        assert len(storage.bulk_insert(EntityTypes.USER, [user_row("first@example.org")])) == 1

    def test_bulk_insert_nodes_and_links(self, storage: StorageBackend) -> None:
        (user,) = storage.bulk_insert(EntityTypes.USER, [user_row("owner@example.org")])
        data, calc = storage.bulk_insert(
            EntityTypes.NODE,
            [node_row(user), node_row(user, node_type="process.calculation.calcjob.CalcJobNode.")],
            allow_defaults=True,
        )
        links = storage.bulk_insert(
            EntityTypes.LINK, [{"input_id": data, "output_id": calc, "label": "x", "type": "input_calc"}]
        )
        assert len(links) == 1

    def test_bulk_update_changes_rows(self, storage: StorageBackend) -> None:
        (pk,) = storage.bulk_insert(EntityTypes.USER, [user_row("old@example.org")])
        storage.bulk_update(EntityTypes.USER, [{"id": pk, "email": "new@example.org"}])
        # the old address is free again and the new one is taken
        storage.bulk_insert(EntityTypes.USER, [user_row("old@example.org")])
        with pytest.raises(IntegrityError):
            storage.bulk_insert(EntityTypes.USER, [user_row("new@example.org")])

    def test_bulk_update_without_id_raises(self, storage: StorageBackend) -> None:
        storage.bulk_insert(EntityTypes.USER, [user_row("someone@example.org")])
        with pytest.raises(IntegrityError):
            storage.bulk_update(EntityTypes.USER, [{"email": "other@example.org"}])

    def test_bulk_update_with_an_invalid_row_writes_nothing(self, storage: StorageBackend) -> None:
        first, second = storage.bulk_insert(EntityTypes.USER, [user_row("a@example.org"), user_row("b@example.org")])
        rows = [{"id": first, "email": "renamed@example.org"}, {"id": second, "no_such_field": 1}]
        with pytest.raises(IntegrityError):
            storage.bulk_update(EntityTypes.USER, rows)
        # had the first row been applied, the address would be taken
        storage.bulk_insert(EntityTypes.USER, [user_row("renamed@example.org")])

    # -------------------------------------------------------------------------------------------- deletion
    def test_delete_nodes_needs_a_transaction(self, storage: StorageBackend) -> None:
        (user,) = storage.bulk_insert(EntityTypes.USER, [user_row("owner@example.org")])
        (node,) = storage.bulk_insert(EntityTypes.NODE, [node_row(user)], allow_defaults=True)
        with pytest.raises(TransactionError):
            storage.delete_nodes_and_connections([node])

    def test_delete_nodes_and_connections(self, storage: StorageBackend) -> None:
        (user,) = storage.bulk_insert(EntityTypes.USER, [user_row("owner@example.org")])
        gone_uuid, kept_uuid = str(uuid.uuid4()), str(uuid.uuid4())
        calculation = "process.calculation.calcjob.CalcJobNode."
        source, gone, kept = storage.bulk_insert(
            EntityTypes.NODE,
            [node_row(user), node_row(user, gone_uuid, calculation), node_row(user, kept_uuid)],
            allow_defaults=True,
        )
        storage.bulk_insert(
            EntityTypes.LINK,
            [
                {"input_id": source, "output_id": gone, "label": "x", "type": "input_calc"},
                {"input_id": gone, "output_id": kept, "label": "y", "type": "create"},
            ],
        )
        (group,) = storage.bulk_insert(EntityTypes.GROUP, [{"label": "g", "user_id": user}], allow_defaults=True)
        storage.bulk_insert(EntityTypes.GROUP_NODE, [{"dbgroup_id": group, "dbnode_id": gone}])
        storage.bulk_insert(
            EntityTypes.COMMENT, [{"dbnode_id": gone, "user_id": user, "content": "c"}], allow_defaults=True
        )
        storage.bulk_insert(
            EntityTypes.LOG,
            [{"dbnode_id": gone, "loggername": "test", "levelname": "INFO", "message": "m"}],
            allow_defaults=True,
        )
        with storage.transaction():
            storage.delete_nodes_and_connections([gone])
        with pytest.raises(KeyError):
            storage.nodes.get(gone)
        assert storage.nodes.count() == 2
        assert storage.nodes.get(kept).get_incoming() == []
        assert storage.nodes.get(source).get_outgoing() == []
        assert storage.groups.get(group).count() == 0
        assert (storage.comments.count(), storage.logs.count()) == (0, 0)
        # uuids are unique: the deleted node's uuid is free again, the kept node's is not
        storage.bulk_insert(EntityTypes.NODE, [node_row(user, gone_uuid)], allow_defaults=True)
        with pytest.raises(IntegrityError):
            storage.bulk_insert(EntityTypes.NODE, [node_row(user, kept_uuid)], allow_defaults=True)

    def test_held_nodes_know_they_were_deleted(self, storage: StorageBackend) -> None:
        (user,) = storage.bulk_insert(EntityTypes.USER, [user_row("owner@example.org")])
        gone, kept = storage.bulk_insert(EntityTypes.NODE, [node_row(user), node_row(user)], allow_defaults=True)
        held, other = storage.nodes.get(gone), storage.nodes.get(kept)
        with storage.transaction():
            storage.delete_nodes_and_connections([gone])
        assert not held.is_stored
        assert other.is_stored
        with pytest.raises(NotExistent):  # a deleted node is not silently stored again
            held.store()
        assert storage.nodes.count() == 1

    # ------------------------------------------------------------------------------------------ entity API
    def test_entity_store_and_get(self, storage: StorageBackend) -> None:
        user = storage.users.create(email="ada@example.org", first_name="Ada")
        assert not user.is_stored
        assert user.pk is None
        user.store()
        assert user.is_stored
        assert isinstance(user.pk, int)
        assert storage.users.get(user.pk) == user
        assert storage.users.get(email="ada@example.org").first_name == "Ada"
        assert storage.users.count() == 1
        assert list(storage.users) == [user]

    def test_entity_get_missing_raises_key_error(self, storage: StorageBackend) -> None:
        with pytest.raises(KeyError):
            storage.users.get(email="nobody@example.org")

    def test_entity_uniqueness_is_enforced(self, storage: StorageBackend) -> None:
        storage.users.create(email="once@example.org").store()
        with pytest.raises(IntegrityError):
            storage.users.create(email="once@example.org").store()
        assert storage.users.count() == 1

    def test_stored_entity_change_is_written(self, storage: StorageBackend) -> None:
        user = storage.users.create(email="change@example.org", institution="before").store()
        user.institution = "after"
        assert storage.users.get(user.pk).institution == "after"

    def test_entity_store_joins_the_open_transaction(self, storage: StorageBackend) -> None:
        with pytest.raises(RuntimeError), storage.transaction():
            storage.users.create(email="undone@example.org").store()
            raise RuntimeError("undo")
        assert storage.users.count() == 0

    def test_node_attributes_and_extras(self, storage: StorageBackend) -> None:
        user = storage.users.create(email="owner@example.org").store()
        node = storage.nodes.create(node_type="data.core.Data.", user=user, label="data")
        node.set_attribute("nested", {"list": [1, 2.5, "three", None], "flag": True})
        node.store()
        loaded = storage.nodes.get(uuid=node.uuid)
        assert loaded.attributes == {"nested": {"list": [1, 2.5, "three", None], "flag": True}}
        with pytest.raises(IntegrityError):  # a stored data node's attributes are provenance
            loaded.set_attribute("nested", 0)
        loaded.set_extra("tag", "kept")
        assert storage.nodes.get(node.pk).extras == {"tag": "kept"}

    @requires("has_repository")
    def test_node_files_go_to_the_repository(self, storage: StorageBackend) -> None:
        user = storage.users.create(email="owner@example.org").store()
        node = storage.nodes.create(node_type="data.core.Data.", user=user)
        node.put_object_from_bytes(b"file content", "folder/file.txt")
        node.store()
        loaded = storage.nodes.get(node.pk)
        assert loaded.get_object_content("folder/file.txt") == b"file content"
        assert loaded.list_object_names("folder") == ["file.txt"]
        assert b"file content" in [
            storage.get_repository().get_object_content(key) for key in storage.get_repository().list_objects()
        ]

    def test_links_and_groups(self, storage: StorageBackend) -> None:
        user = storage.users.create(email="owner@example.org").store()
        data = storage.nodes.create(node_type="data.core.Data.", user=user).store()
        calculation = storage.nodes.create(node_type="process.calculation.calcjob.CalcJobNode.", user=user).store()
        calculation.add_incoming(data, "input_calc", "structure")
        (incoming,) = storage.nodes.get(calculation.pk).get_incoming()
        assert (incoming.node, incoming.link_type.value, incoming.link_label) == (data, "input_calc", "structure")
        assert [triple.node for triple in data.get_outgoing()] == [calculation]
        group = storage.groups.create(label="selection", user=user).store()
        group.add_nodes([data, calculation])
        group.add_nodes([data])
        assert storage.groups.get(group.pk).count() == 2
        assert storage.groups.get(group.pk).nodes == [data, calculation]

    # ------------------------------------------------------------------------------------- global variables
    @pytest.mark.parametrize("value", [0, -7, 1.5, "text", True, None, [1, "two", None], {"a": {"b": [1, 2]}}])
    def test_global_variable_round_trip(self, storage: StorageBackend, value: Any) -> None:
        storage.set_global_variable("key", value, description="a value")
        assert storage.get_global_variable("key") == value

    def test_global_variable_missing_raises_key_error(self, storage: StorageBackend) -> None:
        with pytest.raises(KeyError):
            storage.get_global_variable("never-set")

    def test_global_variable_overwrite(self, storage: StorageBackend) -> None:
        storage.set_global_variable("key", 1)
        storage.set_global_variable("key", 2)
        assert storage.get_global_variable("key") == 2

    def test_global_variable_without_overwrite(self, storage: StorageBackend) -> None:
        storage.set_global_variable("new", 1, overwrite=False)
        with pytest.raises(ValueError):
            storage.set_global_variable("new", 2, overwrite=False)
        assert storage.get_global_variable("new") == 1

    def test_iter_global_variables_lists_the_data_variables_in_order(self, storage: StorageBackend) -> None:
        """What a transfer copies: every variable set, oldest first, with its latest value and description."""
        before = [key for key, _, _ in storage.iter_global_variables()]
        storage.set_global_variable("first", {"a": [1]}, description="the first")
        storage.set_global_variable("second", "two")
        storage.set_global_variable("first", 1)  # a new value keeps the place and the description
        listed = [item for item in storage.iter_global_variables() if item[0] not in before]
        assert listed == [("first", 1, "the first"), ("second", "two", "")]
        if self.has_repository and storage.get_repository().uuid is not None:
            assert storage.get_repository().uuid not in [value for _, value, _ in storage.iter_global_variables()]

    # ----------------------------------------------------------------------------------- information, secrets
    @pytest.mark.parametrize("detailed", [False, True])
    def test_get_info_is_json_serialisable(self, storage: StorageBackend, detailed: bool) -> None:
        info = storage.get_info(detailed=detailed)
        assert isinstance(info, dict)
        json.dumps(info)

    def test_secrets_never_shown(self, storage: StorageBackend) -> None:
        config = type(storage).Configuration.model_validate(storage.profile.storage_config)
        secrets = [
            value.get_secret_value()
            for value in (getattr(config, name) for name in type(config).model_fields)
            if isinstance(value, SecretStr) and value.get_secret_value()
        ]
        if not secrets:
            pytest.skip(f"the configuration of {self.backend} holds no secret")
        shown = " ".join([str(storage), repr(storage), repr(storage.profile), json.dumps(storage.get_info(True))])
        for secret in secrets:
            assert secret not in shown

    # ------------------------------------------------------------------------------- maintenance, repository
    @pytest.mark.parametrize("full", [False, True])
    def test_maintain_dry_run_changes_nothing(self, storage: StorageBackend, full: bool) -> None:
        storage.set_global_variable("kept", 1)
        keys: list[str] = []
        if self.has_repository:
            keys = [storage.get_repository().put_object_from_filelike(io.BytesIO(b"unreferenced"))]
        before = sorted(storage.get_repository().list_objects()) if self.has_repository else []
        report = storage.maintain(full=full, dry_run=True)
        assert isinstance(report, dict)
        assert storage.get_global_variable("kept") == 1
        if self.has_repository:
            assert sorted(storage.get_repository().list_objects()) == before
            assert storage.get_repository().has_objects(keys) == [True]

    def test_maintain_live(self, storage: StorageBackend) -> None:
        storage.set_global_variable("kept", 1)
        assert isinstance(storage.maintain(full=False), dict)
        assert storage.get_global_variable("kept") == 1

    @requires("has_repository")
    def test_repository_round_trip(self, storage: StorageBackend) -> None:
        repository = storage.get_repository()
        assert isinstance(repository, AbstractRepositoryBackend)
        assert repository.is_initialised
        key = repository.put_object_from_filelike(io.BytesIO(b"content"))
        assert repository.get_object_content(key) == b"content"

    def test_clear_removes_data_and_keeps_repository_identity(self, storage: StorageBackend) -> None:
        storage.bulk_insert(EntityTypes.USER, [user_row("cleared@example.org")])
        identity = storage.get_repository().uuid if self.has_repository else None
        storage._clear()
        assert storage.bulk_insert(EntityTypes.USER, [user_row("cleared@example.org")])
        if self.has_repository:
            assert storage.get_repository().uuid == identity
