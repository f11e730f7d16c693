"""Revision 5b1f0c7e9a24: a PostgreSQL store made at the previous head gets native ``uuid`` columns, keeps every
row, and reads back ``str`` uuids; one holding an unparsable uuid is refused and left as it was."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from provstore.exceptions import IncompatibleStorageSchema, StorageMigrationError
from provstore.plugins import resolve_storage_class
from provstore.storage import EntityTypes
from provstore.testing.dataset import populate
from provstore_sql import tables
from provstore_sql.migrator import SqlMigrator

pytestmark = pytest.mark.postgres

PREVIOUS_HEAD = "d081430ab8df"
UUID_TABLES = ("db_dbcomputer", "db_dbgroup", "db_dbnode", "db_dbcomment", "db_dblog")


def _engine(profile) -> sa.Engine:
    return resolve_storage_class(profile).dialect.create_engine(profile)


def _column_types(profile) -> dict[str, str]:
    engine = _engine(profile)
    try:
        with engine.connect() as connection:
            rows = connection.exec_driver_sql(
                "SELECT table_name, data_type FROM information_schema.columns WHERE column_name = 'uuid'"
            ).all()
    finally:
        engine.dispose()
    return dict(rows)


def _rows(profile) -> dict[str, list[tuple[Any, ...]]]:
    """Return every row of every table as text, ordered by id: what a migration must keep."""
    engine = _engine(profile)
    try:
        with engine.connect() as connection:
            return {
                name: [
                    tuple(map(str, row))
                    for row in connection.exec_driver_sql(f"SELECT * FROM {name} ORDER BY id").all()
                ]
                for name in tables.metadata.tables
            }
    finally:
        engine.dispose()


@pytest.fixture
def previous_head_store(psql_profile):
    """Return a profile whose store holds the data set at schema ``d081430ab8df`` (uuids as ``varchar(36)``)."""
    cls = resolve_storage_class(psql_profile)
    cls.initialise(psql_profile)
    with cls(psql_profile) as storage:
        populate(storage)
    engine = _engine(psql_profile)
    try:
        with SqlMigrator.connect(engine, psql_profile.name) as migrator, migrator.connection.begin():
            command.downgrade(SqlMigrator.alembic_config(migrator.connection), PREVIOUS_HEAD)
    finally:
        engine.dispose()
    assert cls.version_profile(psql_profile) == PREVIOUS_HEAD
    assert set(_column_types(psql_profile).values()) == {"character varying"}
    return psql_profile


def test_fresh_store_has_native_uuid_columns(psql_storage):
    types = _column_types(psql_storage.profile)
    assert {name: types[name] for name in UUID_TABLES} == dict.fromkeys(UUID_TABLES, "uuid")
    [pk] = psql_storage.bulk_insert(
        EntityTypes.COMPUTER, [{"label": "c", "uuid": "ABCDEF00-0000-4000-8000-000000000001"}], allow_defaults=True
    )
    computer = psql_storage.computers.get(pk=pk)
    assert computer.uuid == "abcdef00-0000-4000-8000-000000000001" and type(computer.uuid) is str
    row = psql_storage.query().append("computer", project=["uuid"]).first()
    assert type(row[0]) is str


def test_store_at_previous_head_migrates_and_keeps_every_row(previous_head_store):
    cls = resolve_storage_class(previous_head_store)
    before = _rows(previous_head_store)
    with pytest.raises(IncompatibleStorageSchema, match="storage migrate"):
        cls(previous_head_store)
    cls.migrate(previous_head_store)
    assert cls.version_profile(previous_head_store) == cls.version_head()
    types = _column_types(previous_head_store)
    assert {name: types[name] for name in UUID_TABLES} == dict.fromkeys(UUID_TABLES, "uuid")
    assert _rows(previous_head_store) == before
    with cls(previous_head_store) as storage:
        uuids = [row[0] for row in storage.query().append("node", project=["uuid"]).all()]
        assert uuids and {type(value) for value in uuids} == {str}
        assert storage.nodes.get(uuid=uuids[0]).uuid == uuids[0]
        with SqlMigrator.connect(storage._engine, storage.profile.name) as migrator:
            assert migrator.schema_differences() == []


def test_an_unparsable_uuid_is_refused_and_nothing_changes(previous_head_store):
    engine = _engine(previous_head_store)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "UPDATE db_dblog SET uuid = 'not-a-uuid' WHERE id = (SELECT min(id) FROM db_dblog)"
            )
    finally:
        engine.dispose()
    before = _rows(previous_head_store)
    cls = resolve_storage_class(previous_head_store)
    with pytest.raises(StorageMigrationError, match="db_dblog holds the uuid 'not-a-uuid'"):
        cls.migrate(previous_head_store)
    assert cls.version_profile(previous_head_store) == PREVIOUS_HEAD
    assert _rows(previous_head_store) == before
    assert set(_column_types(previous_head_store).values()) == {"character varying"}
