"""Global variables, get_info and the default user."""

from __future__ import annotations

import io

import pytest
from provstore.exceptions import NotExistent
from provstore.storage import EntityTypes
from provstore.testing.profiles import TEST_USER_EMAIL
from provstore_sql.migrator import REPOSITORY_UUID_KEY
from support.rows import node_row


def test_missing_global_variable(storage):
    with pytest.raises(NotExistent, match="no global variable 'nope'") as info:
        storage.get_global_variable("nope")
    assert isinstance(info.value, KeyError)


def test_set_and_overwrite(storage):
    storage.set_global_variable("k", {"nested": ["ü", 1.5, None]}, description="a setting")
    assert storage.get_global_variable("k") == {"nested": ["ü", 1.5, None]}
    storage.set_global_variable("k", 2)
    assert storage.get_global_variable("k") == 2
    with pytest.raises(ValueError, match="already exists"):
        storage.set_global_variable("k", 3, overwrite=False)
    assert storage.get_global_variable("k") == 2


def test_none_value(storage):
    storage.set_global_variable("none", None)
    assert storage.get_global_variable("none") is None


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
