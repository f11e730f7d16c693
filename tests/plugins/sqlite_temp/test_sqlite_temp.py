"""core.sqlite_temp: a private, fresh in-memory store per instance, with a SHA-256 keyed sandbox."""

from __future__ import annotations

import hashlib
import io

from provstore.storage import EntityTypes
from provstore_sqlite_temp.backend import SqliteTempBackend
from support.rows import user_row


def test_create_profile_defaults():
    profile = SqliteTempBackend.create_profile()
    assert profile.name == "temp"
    assert profile.storage_backend == "core.sqlite_temp"
    assert profile.default_user_email == "user@email.com"
    assert profile.repository_backend is None  # the profile names none: the backend's default applies
    assert SqliteTempBackend.default_repository_backend == "core.sandbox"
    assert SqliteTempBackend.cli_exposed is False


def test_create_profile_arguments(tmp_path):
    profile = SqliteTempBackend.create_profile("x", "me@here", {"opt": 1}, debug=True, filepath=tmp_path)
    assert profile.name == "x"
    assert profile.default_user_email == "me@here"
    assert profile.options == {"opt": 1}
    assert profile.storage_config == {"debug": True, "filepath": str(tmp_path)}


def test_every_instance_is_fresh(tmp_path):
    profile = SqliteTempBackend.create_profile(filepath=tmp_path)
    with SqliteTempBackend(profile) as first, SqliteTempBackend(profile) as second:
        first.bulk_insert(EntityTypes.USER, [user_row()])
        assert first.get_info()["entities"]["users"] == 1
        assert second.get_info()["entities"]["users"] == 0
        assert first.get_repository().get_info()["folder"] != second.get_repository().get_info()["folder"]


def test_sha256_keys_and_cleanup(tmp_path):
    profile = SqliteTempBackend.create_profile(filepath=tmp_path)
    storage = SqliteTempBackend(profile)
    repository = storage.get_repository()
    assert repository.key_format == "sha256"
    key = repository.put_object_from_filelike(io.BytesIO(b"content"))
    assert key == hashlib.sha256(b"content").hexdigest()
    assert any(tmp_path.iterdir())
    storage.close()
    assert not any(tmp_path.iterdir())  # the sandbox folder went with the storage


def test_schema_management_is_trivial():
    profile = SqliteTempBackend.create_profile()
    assert SqliteTempBackend.version_profile(profile) == SqliteTempBackend.version_head()
    assert SqliteTempBackend.initialise(profile) is False
    SqliteTempBackend.migrate(profile)


def test_usable_from_another_thread():
    import threading

    with SqliteTempBackend(SqliteTempBackend.create_profile()) as storage:
        errors = []

        def work():
            try:
                storage.set_global_variable("from-thread", 1)
            except Exception as exc:
                errors.append(exc)

        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
        assert errors == []
        assert storage.get_global_variable("from-thread") == 1
