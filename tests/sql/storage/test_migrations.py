"""Schema versions: the shipped alembic scripts, initialise/migrate, and validation when a storage is opened."""

from __future__ import annotations

import hashlib
from importlib.resources import files

import pytest
import sqlalchemy as sa
from provstore.config import Profile
from provstore.exceptions import (
    ConfigurationError,
    CorruptStorage,
    IncompatibleStorageSchema,
    StorageMigrationError,
    UnreachableStorage,
)
from provstore.plugins import resolve_storage_class
from provstore.testing.profiles import make_profile
from provstore_sql.migrator import REPOSITORY_UUID_KEY, SqlMigrator


@pytest.fixture
def profile(tmp_path):
    return make_profile("core.sqlite_dos", tmp_path)


@pytest.fixture
def initialised(profile):
    assert resolve_storage_class(profile).initialise(profile) is True
    return profile


def _database(profile):
    return resolve_storage_class(profile).dialect.database_path(profile)


def _execute(profile, statement: str) -> None:
    engine = sa.create_engine(f"sqlite:///{_database(profile)}")
    with engine.begin() as connection:
        connection.exec_driver_sql(statement)
    engine.dispose()


def _digest(profile) -> str:
    return hashlib.sha256(_database(profile).read_bytes()).hexdigest()


def test_migrations_are_found_as_package_resources():
    root = files("provstore_sql.migrations")
    assert root.joinpath("env.py").is_file()
    assert root.joinpath("script.py.mako").is_file()
    assert any(
        entry.name.endswith(".py") and entry.name != "__init__.py" for entry in root.joinpath("versions").iterdir()
    )
    assert SqlMigrator.version_head() in SqlMigrator.versions()


def test_version_head_is_the_scripts_head(profile):
    assert resolve_storage_class(profile).version_head() == SqlMigrator.script().get_current_head()


def test_uninitialised_profile(profile):
    cls = resolve_storage_class(profile)
    assert cls.version_profile(profile) is None
    assert not _database(profile).exists()  # asking did not create anything
    with pytest.raises(StorageMigrationError, match="not initialised"):
        cls.migrate(profile)
    with pytest.raises(UnreachableStorage, match="no database"):
        cls(profile)


def test_initialise_then_noop_then_reset(initialised):
    cls = resolve_storage_class(initialised)
    assert cls.version_profile(initialised) == cls.version_head()
    assert cls.initialise(initialised) is False
    with cls(initialised) as storage:
        storage.set_global_variable("x", 1)
        old_uuid = storage.get_repository().uuid
    assert cls.initialise(initialised, reset=True) is True
    with cls(initialised) as storage:
        with pytest.raises(KeyError):
            storage.get_global_variable("x")
        assert storage.get_repository().uuid != old_uuid
        assert storage.get_global_variable(REPOSITORY_UUID_KEY) == storage.get_repository().uuid


def test_migrate_at_head_keeps_data(initialised):
    cls = resolve_storage_class(initialised)
    with cls(initialised) as storage:
        storage.set_global_variable("kept", [1, "ü"])
    cls.migrate(initialised)
    assert cls.version_profile(initialised) == cls.version_head()
    with cls(initialised) as storage:
        assert storage.get_global_variable("kept") == [1, "ü"]


def test_models_match_the_migrated_database(initialised):
    engine = resolve_storage_class(initialised).dialect.create_engine(initialised)
    try:
        with SqlMigrator.connect(engine, initialised.name) as migrator:
            assert migrator.schema_differences() == []
    finally:
        engine.dispose()


def test_schema_behind_asks_to_migrate(initialised, monkeypatch):
    current = SqlMigrator.version_head()
    monkeypatch.setattr(SqlMigrator, "version_head", classmethod(lambda cls: "f00dfeedbeef"))
    monkeypatch.setattr(SqlMigrator, "versions", classmethod(lambda cls: [current, "f00dfeedbeef"]))
    before = _digest(initialised)
    with pytest.raises(IncompatibleStorageSchema, match=rf"run `provstore -p {initialised.name} storage migrate`"):
        resolve_storage_class(initialised)(initialised)
    assert _digest(initialised) == before


def test_schema_ahead_says_code_is_too_old(initialised):
    _execute(initialised, "UPDATE alembic_version SET version_num = 'ffffffffffff'")
    before = _digest(initialised)
    with pytest.raises(IncompatibleStorageSchema, match="code is too old"):
        resolve_storage_class(initialised)(initialised)
    with pytest.raises(StorageMigrationError, match="code is too old"):
        resolve_storage_class(initialised).migrate(initialised)
    assert _digest(initialised) == before


def test_repository_uuid_mismatch(initialised):
    _execute(initialised, f"UPDATE db_dbsetting SET val = '\"not-the-uuid\"' WHERE key = '{REPOSITORY_UUID_KEY}'")
    with pytest.raises(CorruptStorage, match="wrong repository"):
        resolve_storage_class(initialised)(initialised)


def test_not_a_database(initialised):
    _database(initialised).write_bytes(b"this is not an SQLite file" * 100)
    with pytest.raises(CorruptStorage, match="unreadable"):
        resolve_storage_class(initialised)(initialised)
    with pytest.raises(CorruptStorage):
        resolve_storage_class(initialised).version_profile(initialised)


def test_tables_without_version(initialised):
    _execute(initialised, "DROP TABLE alembic_version")
    with pytest.raises(CorruptStorage, match="no schema version"):
        resolve_storage_class(initialised).version_profile(initialised)


def test_empty_database_file_is_uninitialised(profile):
    _database(profile).parent.mkdir(parents=True)
    _database(profile).touch()
    assert resolve_storage_class(profile).version_profile(profile) is None
    with pytest.raises(IncompatibleStorageSchema, match="not initialised"):
        resolve_storage_class(profile)(profile)


def test_unwritable_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    profile = make_profile("core.sqlite_dos", blocker)
    with pytest.raises(UnreachableStorage, match="cannot create folder"):
        resolve_storage_class(profile).initialise(profile)


@pytest.mark.parametrize(
    ("backend", "config", "message"),
    [
        ("core.sqlite_dos", {}, "field .filepath.: Field required"),
        ("core.sqlite_dos", {"filepath": "x", "busy_timeout": -1}, "busy_timeout"),
        ("core.sqlite_temp", {"nonsense": 1}, "nonsense"),
    ],
)
def test_invalid_configuration_is_one_clear_error(backend, config, message):
    profile = Profile("bad", {"storage": {"backend": backend, "config": config}})
    for action in (
        resolve_storage_class(profile),
        resolve_storage_class(profile).version_profile,
        resolve_storage_class(profile).initialise,
    ):
        if backend == "core.sqlite_temp" and action is not resolve_storage_class(profile):
            continue  # a temporary storage has no schema to look at without opening it
        with pytest.raises(ConfigurationError, match=message) as info:
            action(profile)
        assert "\n" not in str(info.value)


def test_store_at_the_previous_head_migrates_and_keeps_every_row(initialised):
    from alembic import command
    from provstore.testing.dataset import populate
    from provstore_sql import tables

    cls = resolve_storage_class(initialised)
    with cls(initialised) as storage:
        populate(storage)
    engine = cls.dialect.create_engine(initialised)
    try:
        with SqlMigrator.connect(engine, initialised.name) as migrator, migrator.connection.begin():
            command.downgrade(SqlMigrator.alembic_config(migrator.connection), "d081430ab8df")
    finally:
        engine.dispose()
    assert cls.version_profile(initialised) == "d081430ab8df"

    def dump() -> dict[str, list[tuple]]:
        engine = sa.create_engine(f"sqlite:///{_database(initialised)}")
        try:
            with engine.connect() as connection:
                return {
                    name: connection.exec_driver_sql(f'SELECT * FROM "{name}" ORDER BY id').all()
                    for name in tables.metadata.tables
                }
        finally:
            engine.dispose()

    before = dump()
    assert sum(map(len, before.values())) > 20
    cls.migrate(initialised)
    assert cls.version_profile(initialised) == cls.version_head()
    assert dump() == before
    with cls(initialised) as storage:
        uuids = storage.query().append("node", project="uuid").all(flat=True)
        assert uuids and {type(value) for value in uuids} == {str}
