"""``provstore storage adopt`` of an aiida-core 2.9.4 ``core.psql_dos`` store: its database becomes a provstore
store in place, in one transaction, or is left exactly as it was (dry run, another session, a failure)."""

from __future__ import annotations

import io
from typing import Any

import psycopg2
import pytest
from click.testing import CliRunner
from conftest import tree_digest
from provstore import open_storage
from provstore.cli.root import cli
from provstore.config import Config, Profile
from provstore.exceptions import IncompatibleStorageSchema, LockedProfileError
from provstore.plugins import resolve_storage_class
from provstore.storage import EntityTypes
from provstore_aiida import adopt_psql
from provstore_psql_dos.locking import LOCK_KEY
from provstore_sql import tables
from provstore_sql.migrator import REPOSITORY_UUID_KEY, SqlMigrator
from snapshot import snapshot

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture
def aiida_profile(aiida_psql_store) -> Profile:
    """Save profile ``lab`` of backend core.aiida_psql_dos on the aiida-core store."""
    profile = Profile("lab", {"storage": {"backend": "core.aiida_psql_dos", "config": aiida_psql_store["config"]}})
    with Config.edit() as config:
        config.add_profile(profile)
    return profile


def database_state(pg_cluster, dbname: str) -> dict[str, Any]:
    """Return every table of every schema with its column types and rows (as text): what adoption may change."""
    state: dict[str, Any] = {}
    names = pg_cluster.execute(
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2",
        dbname=dbname,
    )
    for schema, table in names:
        columns = pg_cluster.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
            (schema, table),
            dbname=dbname,
        )
        rows = pg_cluster.execute(f'SELECT * FROM "{schema}"."{table}"', dbname=dbname)
        state[f"{schema}.{table}"] = (columns, sorted(tuple(map(str, row)) for row in rows))
    state["indexes"] = pg_cluster.execute(
        "SELECT schemaname, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 2", dbname=dbname
    )
    return state


def test_lock_key_is_provstore_psql_dos_one():
    assert adopt_psql.LOCK_KEY == LOCK_KEY


def test_dry_run_lists_the_changes_and_changes_nothing(aiida_profile, aiida_psql_store, pg_cluster):
    dbname = aiida_psql_store["config"]["database_name"]
    before = database_state(pg_cluster, dbname), tree_digest(aiida_psql_store["repository"])
    result = CliRunner().invoke(cli, ["-p", "lab", "storage", "adopt", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert f"Would adopt database {dbname}" in result.output
    assert "schema: aiida-core main_0002 -> provstore" in result.output
    assert "kept in the schema aiida_core" in result.output
    assert "profile 'lab': core.aiida_psql_dos -> core.psql_dos" in result.output
    assert (database_state(pg_cluster, dbname), tree_digest(aiida_psql_store["repository"])) == before
    assert Config.load().get_profile("lab").storage_backend == "core.aiida_psql_dos"


def test_adopted_store_holds_everything_and_is_writable(aiida_profile, aiida_psql_store, pg_cluster):
    dbname = aiida_psql_store["config"]["database_name"]
    container_before = tree_digest(aiida_psql_store["repository"])
    kept_before = database_state(pg_cluster, dbname)
    result = CliRunner().invoke(cli, ["-p", "lab", "storage", "adopt"])
    assert result.exit_code == 0, result.output
    adopted = Config.load().get_profile("lab")
    assert adopted.storage_backend == "core.psql_dos"
    assert adopted.storage_config["repository_uri"] == str(aiida_psql_store["repository"] / "container")
    assert tree_digest(aiida_psql_store["repository"]) == container_before  # no file moved or written
    after = database_state(pg_cluster, dbname)
    for table in (*tables.metadata.tables, "alembic_version"):  # aiida-core's tables, kept as they were
        assert after[f"aiida_core.{table}"] == kept_before[f"public.{table}"], table
    for table in tables.metadata.tables:  # the same rows, primary keys included, but aiida's repository uuid row
        kept = [row for row in after[f"aiida_core.{table}"][1] if REPOSITORY_UUID_KEY not in row]
        new = [row for row in after[f"public.{table}"][1] if REPOSITORY_UUID_KEY not in row]
        assert new == kept, table
    types = dict(after["public.db_dbnode"][0])
    assert types["uuid"] == "uuid" and types["attributes"] == "jsonb"
    assert any(name == "ix_pat_db_dbnode_label" for _schema, name, _definition in after["indexes"])

    cls = resolve_storage_class(adopted)
    assert cls.version_profile(adopted) == cls.version_head()
    with open_storage("lab") as storage:
        assert snapshot(storage) == aiida_psql_store["snapshot"]  # every entity, link and file
        with SqlMigrator.connect(storage._engine, "lab") as migrator:
            assert migrator.schema_differences() == []
        node = storage.query().append("node", project=["id", "uuid"]).first()
        assert type(node[1]) is str and storage.nodes.get(uuid=node[1]).pk == node[0]
        storage.set_global_variable("adopted", True)
        highest = max(row[0] for row in storage.query().append("node", project="id").all())
        user = storage.query().append("user", project="id").first()[0]
        [pk] = storage.bulk_insert(EntityTypes.NODE, [{"node_type": "data.core.int.Int.", "user_id": user}], True)
        assert pk > highest  # the sequences were set past the copied ids
        key = storage.get_repository().put_object_from_filelike(io.BytesIO(b"written after adoption"))
        assert storage.get_repository().get_object_content(key) == b"written after adoption"


def test_refused_while_another_session_is_connected(aiida_profile, aiida_psql_store, pg_cluster):
    config = aiida_psql_store["config"]
    dbname = config["database_name"]
    before = database_state(pg_cluster, dbname)
    other = psycopg2.connect(**pg_cluster.connection_params(dbname))
    try:
        with pytest.raises(LockedProfileError, match=r"in use by 1 other session"):
            adopt_psql.adopt_psql_dos(config, "lab")
        result = CliRunner().invoke(cli, ["-p", "lab", "storage", "adopt"])
        assert result.exit_code == 1 and "Error: database" in result.output and "Traceback" not in result.output
    finally:
        other.close()
    assert database_state(pg_cluster, dbname) == before
    assert Config.load().get_profile("lab").storage_backend == "core.aiida_psql_dos"


def test_a_failure_on_the_way_changes_nothing(aiida_profile, aiida_psql_store, pg_cluster, monkeypatch):
    dbname = aiida_psql_store["config"]["database_name"]
    before = database_state(pg_cluster, dbname)

    def broken_differences(self):
        raise RuntimeError("disk full")

    monkeypatch.setattr(adopt_psql.SqlMigrator, "schema_differences", broken_differences)
    with pytest.raises(RuntimeError, match="disk full"):
        adopt_psql.adopt_psql_dos(aiida_psql_store["config"], "lab")
    assert database_state(pg_cluster, dbname) == before
    with open_storage(aiida_profile) as storage:  # still the aiida-core store, read in place
        assert snapshot(storage) == aiida_psql_store["snapshot"]


def test_dangling_references_are_refused_and_nothing_changes(aiida_profile, aiida_psql_store, pg_cluster):
    dbname = aiida_psql_store["config"]["database_name"]
    constraint = pg_cluster.execute(
        "SELECT conname FROM pg_constraint WHERE conrelid = 'db_dblink'::regclass AND contype = 'f' "
        "AND pg_get_constraintdef(oid) LIKE 'FOREIGN KEY (input_id)%'",
        dbname=dbname,
    )[0][0]
    pg_cluster.execute(f'ALTER TABLE db_dblink DROP CONSTRAINT "{constraint}"', dbname=dbname)
    pg_cluster.execute(
        "INSERT INTO db_dblink (input_id, output_id, label, type) "
        "SELECT 999999, min(id), 'dangling', 'create' FROM db_dbnode",
        dbname=dbname,
    )
    before = database_state(pg_cluster, dbname)
    result = CliRunner().invoke(cli, ["-p", "lab", "storage", "adopt"])
    assert result.exit_code == 1, result.output
    assert "failed, nothing changed" in result.output and "Traceback" not in result.output
    assert database_state(pg_cluster, dbname) == before
    assert Config.load().get_profile("lab").storage_backend == "core.aiida_psql_dos"


def test_a_table_aiida_core_has_not_is_refused(aiida_profile, aiida_psql_store, pg_cluster):
    dbname = aiida_psql_store["config"]["database_name"]
    pg_cluster.execute("CREATE TABLE my_notes (id serial PRIMARY KEY)", dbname=dbname)
    before = database_state(pg_cluster, dbname)
    with pytest.raises(IncompatibleStorageSchema, match=r"holds tables aiida-core 2\.9 has not: my_notes"):
        adopt_psql.adopt_psql_dos(aiida_psql_store["config"], "lab", dry_run=True)
    assert database_state(pg_cluster, dbname) == before
