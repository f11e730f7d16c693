"""The migrated PostgreSQL schema is exactly the models, with the PostgreSQL-only indexes in place."""

from __future__ import annotations

from pathlib import Path

import pytest
from provstore.exceptions import LockedProfileError
from provstore.plugins import resolve_storage_class
from provstore_sql.migrator import SqlMigrator

pytestmark = pytest.mark.postgres


def test_alembic_finds_no_difference_between_models_and_database(psql_storage):
    with SqlMigrator.connect(psql_storage._engine, psql_storage.profile.name) as migrator:
        assert migrator.schema_differences() == []


def test_postgresql_only_indexes_and_column_types(psql_storage):
    session = psql_storage.get_session()
    indexes = dict(
        session.connection()
        .exec_driver_sql("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'db_dbnode'")
        .all()
    )
    assert "USING gin (attributes" in indexes["ix_gin_db_dbnode_attributes"]  # operator class: the models' choice
    assert "USING gin (extras" in indexes["ix_gin_db_dbnode_extras"]
    assert "varchar_pattern_ops" in indexes["ix_pat_db_dbnode_label"]
    types = dict(
        session.connection()
        .exec_driver_sql("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'db_dbnode'")
        .all()
    )
    assert types["attributes"] == "jsonb" and types["ctime"] == "timestamp with time zone"
    deferrable = (
        session.connection()
        .exec_driver_sql(
            "SELECT bool_and(condeferrable AND condeferred) FROM pg_constraint WHERE contype = 'f' "
            "AND conrelid = 'db_dbnode'::regclass"
        )
        .scalar()
    )
    assert deferrable is True


def test_delete_storage_drops_the_tables_and_erases_the_repository(psql_profile):
    cls = resolve_storage_class(psql_profile)
    assert cls.initialise(psql_profile) is True
    with cls(psql_profile) as storage:
        repository_folder = storage.get_repository().get_info()["folder"]
    cls.delete_storage(psql_profile)
    assert cls.version_profile(psql_profile) is None
    assert not Path(repository_folder).exists()
    assert cls.initialise(psql_profile) is True  # the database itself stays usable


def test_delete_storage_refuses_while_the_profile_is_in_use(psql_storage):
    with pytest.raises(LockedProfileError):
        resolve_storage_class(psql_storage.profile).delete_storage(psql_storage.profile)
    assert psql_storage.get_info()["entities"]["users"] >= 0
