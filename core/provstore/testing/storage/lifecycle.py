"""Profile lifecycle: configuration, initialise, schema versions, migrate, open/close, and their errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import provstore
from provstore.config import Profile
from provstore.exceptions import (
    ClosedStorage,
    ConfigurationError,
    IncompatibleStorageSchema,
    StorageMigrationError,
    UnreachableStorage,
)
from provstore.storage import EntityTypes, StorageBackend
from provstore.testing.capabilities import requires
from provstore.testing.configs import storage_class
from provstore.testing.storage.base import StorageTests, writes

__all__ = ["ConfigurationTests", "LifecycleTests"]

CLOSED_ACTIONS: dict[str, Callable[[StorageBackend], Any]] = {
    "get_global_variable": lambda storage: storage.get_global_variable("anything"),
    "set_global_variable": lambda storage: storage.set_global_variable("anything", 1),
    "transaction": lambda storage: storage.transaction().__enter__(),
    "in_transaction": lambda storage: storage.in_transaction,
    "bulk_insert": lambda storage: storage.bulk_insert(EntityTypes.USER, []),
    "get_info": lambda storage: storage.get_info(),
    "maintain": lambda storage: storage.maintain(dry_run=True),
    "nodes": lambda storage: storage.nodes.count(),
    "query": lambda storage: storage.query().append("node").count(),
}


class ConfigurationTests(StorageTests):
    """The backend's ``Configuration``: every field is described, and an unknown setting is one clear error."""

    def test_configuration_fields_are_described(self, provstore_storage_config: dict[str, Any]) -> None:
        """``provstore profile setup`` turns each field into an option whose help is the field's description."""
        cls = storage_class(Profile("conformance", provstore_storage_config))
        undocumented = [name for name, field in cls.Configuration.model_fields.items() if not field.description]
        assert not undocumented, f"Configuration fields without a description: {undocumented}"

    def test_unknown_setting_is_one_configuration_error(self, provstore_storage_config: dict[str, Any]) -> None:
        """A typo in a profile is an error naming the setting, not a setting silently ignored."""
        storage = provstore_storage_config["storage"]
        config = {**provstore_storage_config, "storage": {**storage, "config": {**storage["config"], "no_such": 1}}}
        with pytest.raises(ConfigurationError, match="no_such") as info:
            provstore.open_storage(Profile("conformance", config))
        assert "\n" not in str(info.value)


@writes
class LifecycleTests(StorageTests):
    """A profile's storage is created by ``initialise``, versioned, migrated, opened and closed as documented.

    Checks: a new storage is at ``version_head()``; ``initialise`` again is a no-op and ``reset=True`` empties
    it; ``migrate`` at head keeps data and refuses an uninitialised storage; opening an uninitialised persistent
    storage fails with ``UnreachableStorage``/``IncompatibleStorageSchema``; a closed storage refuses every use
    with ``ClosedStorage``, closing twice is harmless and the context manager closes.
    """

    @staticmethod
    def fresh_profile(config: dict[str, Any]) -> Profile:
        """Return a profile on ``config`` (uninitialised unless the test initialised it)."""
        return Profile("conformance", config)

    def test_open_storage_is_open(self, provstore_storage: StorageBackend) -> None:
        assert not provstore_storage.is_closed
        assert provstore_storage.profile.storage_backend == self.backend
        assert provstore_storage.profile.name in str(provstore_storage)

    def test_close_is_idempotent(self, provstore_storage: StorageBackend) -> None:
        provstore_storage.close()
        assert provstore_storage.is_closed
        provstore_storage.close()
        assert provstore_storage.is_closed

    @pytest.mark.parametrize("action", list(CLOSED_ACTIONS))
    def test_closed_storage_refuses_use(self, provstore_storage: StorageBackend, action: str) -> None:
        provstore_storage.close()
        with pytest.raises(ClosedStorage):
            CLOSED_ACTIONS[action](provstore_storage)

    def test_context_manager_closes(self, provstore_storage: StorageBackend) -> None:
        with provstore_storage as entered:
            assert entered is provstore_storage
        assert provstore_storage.is_closed

    # --------------------------------------------------------------------------------------- schema version
    def test_version_head_is_a_string(self, provstore_storage: StorageBackend) -> None:
        head = type(provstore_storage).version_head()
        assert isinstance(head, str)
        assert head

    def test_initialised_profile_is_at_head(self, provstore_storage: StorageBackend) -> None:
        cls = type(provstore_storage)
        assert cls.version_profile(provstore_storage.profile) == cls.version_head()

    @requires("persistent")
    def test_initialise_again_is_a_noop(
        self, provstore_storage: StorageBackend, provstore_storage_factory: Callable[..., StorageBackend]
    ) -> None:
        provstore_storage.set_global_variable("kept", 1)
        provstore_storage.close()
        assert storage_class(provstore_storage.profile).initialise(provstore_storage.profile) is False
        reopened = provstore_storage_factory(provstore_storage.profile, initialise=False)
        assert reopened.get_global_variable("kept") == 1

    @requires("persistent")
    def test_migrate_at_head_keeps_data(
        self, provstore_storage: StorageBackend, provstore_storage_factory: Callable[..., StorageBackend]
    ) -> None:
        provstore_storage.set_global_variable("kept", "yes")
        provstore_storage.close()
        cls = storage_class(provstore_storage.profile)
        cls.migrate(provstore_storage.profile)
        assert cls.version_profile(provstore_storage.profile) == cls.version_head()
        reopened = provstore_storage_factory(provstore_storage.profile, initialise=False)
        assert reopened.get_global_variable("kept") == "yes"

    @requires("persistent")
    def test_uninitialised_profile_has_no_version(self, provstore_fresh_storage_config: dict[str, Any]) -> None:
        profile = self.fresh_profile(provstore_fresh_storage_config)
        assert storage_class(profile).version_profile(profile) is None

    @requires("persistent")
    def test_migrate_uninitialised_raises(self, provstore_fresh_storage_config: dict[str, Any]) -> None:
        profile = self.fresh_profile(provstore_fresh_storage_config)
        with pytest.raises(StorageMigrationError):
            storage_class(profile).migrate(profile)

    @requires("persistent")
    def test_open_uninitialised_raises(
        self, provstore_fresh_storage_config: dict[str, Any], provstore_storage_factory: Callable[..., StorageBackend]
    ) -> None:
        profile = self.fresh_profile(provstore_fresh_storage_config)
        with pytest.raises((UnreachableStorage, IncompatibleStorageSchema)):
            provstore_storage_factory(profile, initialise=False)

    @requires("persistent")
    def test_initialise_creates_once(self, provstore_fresh_storage_config: dict[str, Any]) -> None:
        profile = self.fresh_profile(provstore_fresh_storage_config)
        cls = storage_class(profile)
        assert cls.initialise(profile) is True
        assert cls.initialise(profile) is False
        assert cls.version_profile(profile) == cls.version_head()

    @requires("persistent")
    def test_initialise_reset_removes_data(
        self, provstore_storage: StorageBackend, provstore_storage_factory: Callable[..., StorageBackend]
    ) -> None:
        provstore_storage.set_global_variable("gone", 1)
        provstore_storage.bulk_insert(EntityTypes.USER, [{"email": "gone@example.org"}], allow_defaults=True)
        profile = provstore_storage.profile
        provstore_storage.close()
        assert storage_class(profile).initialise(profile, reset=True) is True
        reopened = provstore_storage_factory(profile, initialise=False)
        with pytest.raises(KeyError):
            reopened.get_global_variable("gone")
        assert reopened.query().append("user", filters={"email": "gone@example.org"}).count() == 0

    @requires("persistent")
    def test_data_survives_reopening(
        self, provstore_storage: StorageBackend, provstore_storage_factory: Callable[..., StorageBackend]
    ) -> None:
        provstore_storage.set_global_variable("kept", [1, 2, 3])
        node = provstore_storage.nodes.create(node_type="data.core.Data.", label="kept").store()
        provstore_storage.close()
        reopened = provstore_storage_factory(provstore_storage.profile, initialise=False)
        assert reopened.get_global_variable("kept") == [1, 2, 3]
        assert reopened.nodes.get(uuid=node.uuid).label == "kept"
