"""Schema and store integrity: a damaged or mismatched store is refused with its own exception, untouched.

Each case damages an initialised store holding data (or makes the code newer than it), then opens it:
the open must raise exactly the documented exception with a one-line message, and leave every file
(database, container) and every database row as it was.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from provstore.config import Profile
from provstore.exceptions import CorruptStorage, IncompatibleStorageSchema, UnreachableStorage
from provstore.plugins import resolve_storage_class
from provstore_sql.migrator import SqlMigrator

from reliability.checks import database_dump, folder_digest, reopen
from reliability.figures import record


def _set_version(profile: Profile, version: str) -> None:
    engine = resolve_storage_class(profile).dialect.create_engine(profile)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": version})
    engine.dispose()


def _code_one_revision_newer(profile: Profile, monkeypatch: pytest.MonkeyPatch) -> None:
    current = SqlMigrator.version_head()
    monkeypatch.setattr(SqlMigrator, "version_head", classmethod(lambda cls: "c0de0000newer"))
    monkeypatch.setattr(SqlMigrator, "versions", classmethod(lambda cls: [current, "c0de0000newer"]))


def _other_repository(profile: Profile, monkeypatch: pytest.MonkeyPatch) -> None:
    """Replace the container by a new, empty one (another uuid) at the same place."""
    storage = reopen(profile)
    folder = Path(storage.get_repository().container.get_folder())
    storage.close()
    shutil.rmtree(folder)
    resolve_storage_class(profile).repository_for(profile).initialise()


def _delete_repository(profile: Profile, monkeypatch: pytest.MonkeyPatch) -> None:
    storage = reopen(profile)
    folder = Path(storage.get_repository().container.get_folder())
    storage.close()
    shutil.rmtree(folder)


def _database_file(profile: Profile) -> Path:
    return resolve_storage_class(profile).dialect.database_path(profile)


def _truncate(profile: Profile, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _database_file(profile)
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size // 3)


def _not_a_database(profile: Profile, monkeypatch: pytest.MonkeyPatch) -> None:
    _database_file(profile).write_bytes(b"this is a text file, not an SQLite database\n" * 200)


CASES: dict[str, tuple[Callable[[Profile, pytest.MonkeyPatch], None], type[Exception], str, set[str]]] = {
    "schema behind the code": (
        _code_one_revision_newer,
        IncompatibleStorageSchema,
        "behind the code",
        {"core.sqlite_dos", "core.psql_dos"},
    ),
    "schema ahead of the code": (
        lambda profile, _: _set_version(profile, "fe11fe11fe11"),
        IncompatibleStorageSchema,
        "unknown to this code",
        {"core.sqlite_dos", "core.psql_dos"},
    ),
    "repository uuid mismatch": (
        _other_repository,
        CorruptStorage,
        "wrong repository",
        {"core.sqlite_dos", "core.psql_dos"},
    ),
    "repository folder deleted": (
        _delete_repository,
        UnreachableStorage,
        "not initialised",
        {"core.sqlite_dos", "core.psql_dos"},
    ),
    "database file truncated": (_truncate, CorruptStorage, "malformed", {"core.sqlite_dos"}),
    "database file not a database": (_not_a_database, CorruptStorage, "not a database", {"core.sqlite_dos"}),
}


def _readable_dump(profile: Profile) -> dict[str, list[str]] | None:
    """Return the database dump, or None when the database cannot be read at all (the damaged cases)."""
    try:
        return database_dump(profile)
    except sa.exc.DatabaseError:
        return None


@pytest.mark.parametrize("case", list(CASES))
def test_damaged_store_is_refused_and_untouched(case, durable_profile, tmp_path, monkeypatch):
    damage, error, message, backends = CASES[case]
    if durable_profile.storage_backend not in backends:
        pytest.skip(f"{case} does not apply to {durable_profile.storage_backend}")
    storage = reopen(durable_profile)
    node = storage.nodes.create(node_type="data.core.folder.FolderData.", label="before")
    node.put_object_from_bytes(b"precious", "file.txt")
    node.store()
    storage.get_repository().put_object_from_filelike(io.BytesIO(b"loose object"))
    storage.close()

    damage(durable_profile, monkeypatch)
    files, rows = folder_digest(tmp_path), _readable_dump(durable_profile)
    for _ in range(2):  # a second attempt must fail the same way: the first repaired or broke nothing
        with pytest.raises(error) as raised:
            reopen(durable_profile)
        assert type(raised.value) is error
        assert message in str(raised.value) and "\n" not in str(raised.value)
        record("damaged stores refused")
    assert folder_digest(tmp_path) == files
    assert _readable_dump(durable_profile) == rows


@pytest.mark.postgres
def test_missing_postgres_database_is_unreachable(pg_database, tmp_path):
    from provstore.testing.profiles import make_profile

    profile = make_profile("core.psql_dos", tmp_path, **{**pg_database, "database_name": "no_such_database"})
    with pytest.raises(UnreachableStorage, match="no_such_database") as raised:
        resolve_storage_class(profile)(profile)
    assert "\n" not in str(raised.value)
    record("damaged stores refused")
