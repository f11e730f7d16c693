"""maintain(): live vs full, dry runs, unreferenced objects, and the exclusive profile lock."""

from __future__ import annotations

import io

import pytest
from provstore.exceptions import LockedProfileError
from provstore.plugins import resolve_storage_class
from provstore.storage import EntityTypes
from provstore.testing.profiles import make_profile
from support.child import run_with_profile
from support.rows import node_row


def _objects(storage, user_id):
    repository = storage.get_repository()
    kept = repository.put_object_from_filelike(io.BytesIO(b"referenced"))
    orphan = repository.put_object_from_filelike(io.BytesIO(b"orphan"))
    metadata = {"o": {"folder": {"o": {"file.txt": {"k": kept}}}}}
    storage.bulk_insert(EntityTypes.NODE, [node_row(user_id, repository_metadata=metadata)], allow_defaults=True)
    return kept, orphan


def test_unreferenced_keyset(storage, user_id):
    _, orphan = _objects(storage, user_id)
    assert storage.get_unreferenced_keyset() == {orphan}


def test_live_maintenance_keeps_unreferenced_objects(storage, user_id):
    kept, orphan = _objects(storage, user_id)
    result = storage.maintain()
    assert result["repository"]["live"] is True
    assert storage.get_repository().has_objects([kept, orphan]) == [True, True]


def test_full_dry_run_changes_nothing(storage, user_id):
    kept, orphan = _objects(storage, user_id)
    result = storage.maintain(full=True, dry_run=True)
    assert result["unreferenced_objects"] == {"count": 1, "deleted": False}
    assert storage.get_repository().has_objects([kept, orphan]) == [True, True]


def test_full_deletes_unreferenced_objects(storage, user_id):
    kept, orphan = _objects(storage, user_id)
    result = storage.maintain(full=True)
    assert result["unreferenced_objects"] == {"count": 1, "deleted": True}
    assert storage.get_repository().has_objects([kept, orphan]) == [True, False]
    assert storage.get_info()["entities"]["nodes"] == 1  # still usable afterwards


def test_full_maintenance_without_unreferenced_objects_claims_no_deletion(storage):
    result = storage.maintain(full=True)
    assert result["unreferenced_objects"] == {"count": 0, "deleted": False}


_FULL_MAINTAIN = """
import json, sys
from provstore.config import Profile
from provstore.plugins import resolve_storage_class
from provstore.exceptions import LockedProfileError
profile = Profile("p", json.loads(sys.argv[1]))
storage = resolve_storage_class(profile)(profile)
try:
    storage.maintain(full=True)
except LockedProfileError as exc:
    print("locked:", exc)
else:
    print("maintained")
storage.close()
"""

_OPEN = """
import json, sys
from provstore.config import Profile
from provstore.plugins import resolve_storage_class
from provstore.exceptions import LockedProfileError
profile = Profile("p", json.loads(sys.argv[1]))
try:
    resolve_storage_class(profile)(profile).close()
except LockedProfileError as exc:
    print("locked:", exc)
else:
    print("opened")
"""


@pytest.fixture
def dos_profile(tmp_path):
    profile = make_profile("core.sqlite_dos", tmp_path)
    resolve_storage_class(profile).initialise(profile)
    return profile


def test_full_maintenance_refused_while_another_process_uses_the_profile(dos_profile):
    storage = resolve_storage_class(dos_profile)(dos_profile)
    try:
        output = run_with_profile(_FULL_MAINTAIN, dos_profile)
        assert output.startswith("locked:")
        assert "in use by another process" in output
        storage.maintain()  # our own shared lock survived the other process's failed attempt
    finally:
        storage.close()
    assert run_with_profile(_FULL_MAINTAIN, dos_profile) == "maintained"


def test_opening_refused_during_full_maintenance(dos_profile):
    storage = resolve_storage_class(dos_profile)(dos_profile)
    try:
        with storage._lock.exclusive():
            assert run_with_profile(_OPEN, dos_profile).startswith("locked:")
        assert run_with_profile(_OPEN, dos_profile) == "opened"
    finally:
        storage.close()


def test_full_maintenance_refused_by_a_second_instance_in_this_process(dos_profile):
    first = resolve_storage_class(dos_profile)(dos_profile)
    second = resolve_storage_class(dos_profile)(dos_profile)
    try:
        with pytest.raises(LockedProfileError):
            first.maintain(full=True)
    finally:
        second.close()
    try:
        first.maintain(full=True)
    finally:
        first.close()


def test_migrate_refused_while_in_use(dos_profile):
    storage = resolve_storage_class(dos_profile)(dos_profile)
    try:
        with pytest.raises(LockedProfileError):
            resolve_storage_class(dos_profile).migrate(dos_profile)
    finally:
        storage.close()
    resolve_storage_class(dos_profile).migrate(dos_profile)
