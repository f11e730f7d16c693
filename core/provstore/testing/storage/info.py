"""``get_info``, ``maintain``, the storage's repository and ``_clear``: reports are plain data, secrets never shown."""

from __future__ import annotations

import io
import json

import pytest
from pydantic import SecretStr

from provstore.repository import AbstractRepositoryBackend
from provstore.storage import EntityTypes, StorageBackend
from provstore.testing.capabilities import requires
from provstore.testing.storage.base import DATA, StorageTests, user_row, writes

__all__ = ["InfoMaintenanceTests"]


@writes
class InfoMaintenanceTests(StorageTests):
    """What a storage reports about itself and how it maintains itself.

    Checks: ``get_info`` (basic and detailed) is a JSON-serialisable dict; no secret of the configuration
    (``SecretStr`` fields) appears in ``str``/``repr``/``get_info``; ``maintain(dry_run=True)`` changes nothing
    (data and repository objects), ``maintain()`` keeps all data and the files nodes refer to; the repository
    is initialised and usable; ``_clear`` empties the storage but keeps the repository's identity.
    """

    @pytest.mark.parametrize("detailed", [False, True])
    def test_get_info_is_json_serialisable(self, provstore_storage: StorageBackend, detailed: bool) -> None:
        provstore_storage.nodes.create(node_type=DATA).store()
        info = provstore_storage.get_info(detailed=detailed)
        assert isinstance(info, dict) and info
        json.dumps(info)

    def test_secrets_never_shown(self, provstore_storage: StorageBackend) -> None:
        storage = provstore_storage
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

    @pytest.mark.parametrize("full", [False, True])
    def test_maintain_dry_run_changes_nothing(self, provstore_storage: StorageBackend, full: bool) -> None:
        storage = provstore_storage
        storage.set_global_variable("kept", 1)
        node = storage.nodes.create(node_type=DATA).store()
        keys: list[str] = []
        if self.has_repository:
            keys = [storage.get_repository().put_object_from_filelike(io.BytesIO(b"unreferenced"))]
        before = sorted(storage.get_repository().list_objects()) if self.has_repository else []
        report = storage.maintain(full=full, dry_run=True)
        assert isinstance(report, dict)
        json.dumps(report)
        assert storage.get_global_variable("kept") == 1
        assert storage.nodes.get(node.pk) == node
        if self.has_repository:
            assert sorted(storage.get_repository().list_objects()) == before
            assert storage.get_repository().has_objects(keys) == [True]

    @pytest.mark.parametrize("full", [False, True])
    def test_maintain_keeps_data_and_referenced_files(self, provstore_storage: StorageBackend, full: bool) -> None:
        storage = provstore_storage
        storage.set_global_variable("kept", 1)
        node = storage.nodes.create(node_type="process.workflow.work.")
        if self.has_repository:
            node.put_object_from_bytes(b"referenced", "file.txt")
        node.store()
        report = storage.maintain(full=full)
        assert isinstance(report, dict)
        json.dumps(report)
        assert storage.get_global_variable("kept") == 1
        if self.has_repository:
            assert storage.nodes.get(node.pk).get_object_content("file.txt") == b"referenced"

    @requires("has_repository")
    def test_repository_round_trip(self, provstore_storage: StorageBackend) -> None:
        repository = provstore_storage.get_repository()
        assert isinstance(repository, AbstractRepositoryBackend)
        assert repository.is_initialised
        key = repository.put_object_from_filelike(io.BytesIO(b"content"))
        assert repository.get_object_content(key) == b"content"

    def test_clear_removes_data_and_keeps_repository_identity(self, provstore_storage: StorageBackend) -> None:
        storage = provstore_storage
        storage.bulk_insert(EntityTypes.USER, [user_row("cleared@example.org")])
        storage.nodes.create(node_type=DATA).store()
        identity = storage.get_repository().uuid if self.has_repository else None
        storage._clear()
        assert storage.nodes.count() == 0
        assert storage.bulk_insert(EntityTypes.USER, [user_row("cleared@example.org")])
        if self.has_repository:
            assert storage.get_repository().uuid == identity
