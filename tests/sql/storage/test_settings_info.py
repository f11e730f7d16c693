"""SQL specifics of settings and get_info: the recorded repository uuid, the info layout, _clear, the default user."""

from __future__ import annotations

import io

from provstore.storage import EntityTypes
from provstore.testing.profiles import TEST_USER_EMAIL
from provstore_sql.migrator import REPOSITORY_UUID_KEY
from support.rows import node_row


def test_repository_uuid_is_recorded(storage):
    assert storage.get_global_variable(REPOSITORY_UUID_KEY) == storage.get_repository().uuid


def test_info(storage, user_id):
    storage.bulk_insert(EntityTypes.NODE, [node_row(user_id, i) for i in range(3)], allow_defaults=True)
    info = storage.get_info()
    assert info["schema_version"] == type(storage).version_head()
    assert info["entities"]["nodes"] == 3
    assert info["entities"]["users"] == 1
    assert "node_types" not in info["entities"]
    assert isinstance(info["repository"], dict)
    detailed = storage.get_info(detailed=True)
    assert detailed["entities"]["node_types"] == {"data.core.Int.": 3}


def test_clear_keeps_settings(storage, user_id):
    storage.bulk_insert(EntityTypes.NODE, [node_row(user_id)], allow_defaults=True)
    storage.set_global_variable("kept", 1)
    repository = storage.get_repository()
    repository.put_object_from_filelike(io.BytesIO(b"gone"))
    identity = repository.uuid
    storage._clear()
    info = storage.get_info()
    assert info["entities"]["nodes"] == info["entities"]["users"] == 0
    assert storage.get_global_variable("kept") == 1
    assert list(repository.list_objects()) == []
    assert storage.get_repository().uuid == identity


def test_default_user_is_created_once(storage):
    user = storage.default_user
    assert user.email == TEST_USER_EMAIL
    assert storage.default_user is user
    assert storage.users.count() == 1
