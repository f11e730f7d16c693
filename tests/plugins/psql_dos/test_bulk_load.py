"""Bulk-load mode on PostgreSQL: table locks against other sessions, fallback while they are held, pending checks."""

from __future__ import annotations

import itertools
import re
import threading
import time
import uuid

import psycopg2
import pytest
import sqlalchemy as sa
from provstore.exceptions import IntegrityError
from provstore.plugins import resolve_storage_class
from provstore.storage import EntityTypes
from provstore_sql.bulk import load_mode
from support.bulk_load_support import schema_snapshot, spy_bulk_load

pytestmark = pytest.mark.postgres

ROWS = 1000


def _connect(pg_database: dict) -> psycopg2.extensions.connection:
    """Open a plain driver connection to the test database: another program reading the store."""
    return psycopg2.connect(
        host=pg_database["database_hostname"],
        port=pg_database["database_port"],
        user=pg_database["database_username"],
        password=pg_database["database_password"],
        dbname=pg_database["database_name"],
    )


def _user(storage) -> int:
    return storage.bulk_insert(EntityTypes.USER, [{"email": "load@example.org"}], allow_defaults=True)[0]


def _node(user_id: int, index: int = 0) -> dict:
    return {"uuid": str(uuid.uuid4()), "node_type": "data.core.Int.", "label": f"n{index}", "user_id": user_id}


def _count(storage) -> int:
    return storage.get_session().connection().exec_driver_sql("SELECT count(*) FROM db_dbnode").scalar()


def _waiting_on_a_lock(monitor: psycopg2.extensions.connection, pid: int, timeout: float = 20) -> bool:
    """Return whether backend ``pid`` is seen waiting for a lock within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    with monitor.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,))
            if cursor.fetchone()[0] == "Lock":
                return True
            time.sleep(0.05)
    return False


def test_readers_wait_for_the_load_then_see_every_row(psql_storage, psql_profile, pg_database, monkeypatch):
    modes = spy_bulk_load(monkeypatch, type(psql_storage), threshold=100, chunk=50)
    user = _user(psql_storage)
    reader, monitor = _connect(pg_database), _connect(pg_database)
    monitor.autocommit = True
    seen: list[int] = []
    events: dict[str, bool] = {}

    def read() -> None:
        with reader.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM db_dbnode")
            seen.append(cursor.fetchone()[0])
        reader.commit()

    thread = threading.Thread(target=read)

    def rows():
        for index in range(ROWS):
            if index == 500:  # bulk-load mode since row 100: the table is locked
                thread.start()
                events["reader waited"] = _waiting_on_a_lock(monitor, reader.get_backend_pid())
                # another process may still open the profile (shared advisory lock, no table read)
                second = resolve_storage_class(psql_profile)(psql_profile)
                events["second storage opened"] = True
                second.close()
            yield _node(user, index)

    try:
        pks = psql_storage.bulk_insert(EntityTypes.NODE, rows(), allow_defaults=True, exclusive_load=True)
        thread.join(timeout=60)
    finally:
        reader.close()
        monitor.close()
    assert modes == [True]
    assert events == {"reader waited": True, "second storage opened": True}
    assert seen == [ROWS] == [len(pks)]
    assert pks == list(range(pks[0], pks[0] + ROWS))  # one range: the ids after the switch were reserved at once
    [after] = psql_storage.bulk_insert(EntityTypes.NODE, [_node(user)], allow_defaults=True)
    assert after > pks[-1]  # the sequence moved past the range


def test_a_reading_transaction_makes_the_load_go_row_by_row(psql_storage, pg_database, monkeypatch):
    modes = spy_bulk_load(monkeypatch, type(psql_storage), threshold=100, chunk=50)
    monkeypatch.setattr(psql_storage.dialect, "bulk_load_lock_timeout", 0.2)
    user = _user(psql_storage)
    before = schema_snapshot(psql_storage)
    reader = _connect(pg_database)
    try:
        with reader.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM db_dbnode")  # the open transaction keeps a lock on the table
            pks = psql_storage.bulk_insert(
                EntityTypes.NODE, (_node(user, i) for i in range(ROWS)), allow_defaults=True, exclusive_load=True
            )
            cursor.execute("SELECT count(*) FROM db_dbnode")  # never blocked; read committed: sees the new rows
            assert cursor.fetchone()[0] == ROWS
        reader.commit()
    finally:
        reader.close()
    assert modes == [False]
    assert len(pks) == ROWS == _count(psql_storage)
    assert schema_snapshot(psql_storage) == before


def test_pending_checks_of_the_callers_transaction_run_before_the_switch(psql_storage, monkeypatch):
    modes = spy_bulk_load(monkeypatch, type(psql_storage), threshold=100, chunk=50)
    user = _user(psql_storage)
    before = schema_snapshot(psql_storage)
    psql_storage.bulk_insert(
        EntityTypes.NODE, [_node(user, i) for i in range(150)], allow_defaults=True, exclusive_load=True
    )
    modes.clear()
    rows = [_node(user, i) for i in range(ROWS)]
    rows[20]["user_id"] = user + 1000  # inserted before the switch: its queued check fails when run at the switch
    with pytest.raises(IntegrityError, match=r"^db_dbnode: .*fk_db_dbnode_user_id_db_dbuser.*Key \(user_id\)"):
        psql_storage.bulk_insert(EntityTypes.NODE, rows, allow_defaults=True, exclusive_load=True)
    assert modes == [False, None]  # 150 rows held: not at 100 rows read, at 200 inserted, which failed
    assert _count(psql_storage) == 150
    assert schema_snapshot(psql_storage) == before

    modes.clear()
    with psql_storage.transaction():
        psql_storage.bulk_insert(
            EntityTypes.NODE, [_node(user, i) for i in range(10)], allow_defaults=True, exclusive_load=True
        )
        pks = psql_storage.bulk_insert(
            EntityTypes.NODE, [_node(user, i) for i in range(ROWS)], allow_defaults=True, exclusive_load=True
        )
        links = [{"input_id": a, "output_id": b, "label": "l", "type": "t"} for a, b in itertools.pairwise(pks)]
        psql_storage.bulk_insert(
            EntityTypes.LINK, links, exclusive_load=True
        )  # queued checks on db_dbnode, which it references
    assert modes == [False, True, True]  # the queued checks ran, then the foreign keys could be dropped
    assert _count(psql_storage) == ROWS + 160
    assert schema_snapshot(psql_storage) == before

    # the checks that stay are deferred again: a dangling reference written later fails only at commit
    with pytest.raises(IntegrityError, match=r"at commit: .*fk_db_dbnode_user_id_db_dbuser"):
        with psql_storage.transaction():
            psql_storage.bulk_insert(
                EntityTypes.LINK, links * 2, exclusive_load=True
            )  # the links table doubles: bulk-load mode
            assert modes[-1] is True
            psql_storage.bulk_insert(EntityTypes.NODE, [_node(user + 1000)], allow_defaults=True)


def test_a_primary_key_is_dropped_only_when_no_foreign_key_depends_on_it(psql_storage, monkeypatch):
    spy_bulk_load(monkeypatch, type(psql_storage), threshold=100, chunk=50)
    loads = []
    original_begin = load_mode.BulkLoad.begin.__func__

    def begin(cls, *args, **kwargs):
        loads.append(original_begin(cls, *args, **kwargs))
        return loads[-1]

    monkeypatch.setattr(load_mode.BulkLoad, "begin", classmethod(begin))
    user = _user(psql_storage)
    pks = psql_storage.bulk_insert(
        EntityTypes.NODE, [_node(user, i) for i in range(ROWS)], allow_defaults=True, exclusive_load=True
    )
    links = [{"input_id": a, "output_id": b, "label": "l", "type": "t"} for a, b in itertools.pairwise(pks)]
    psql_storage.bulk_insert(EntityTypes.LINK, links, exclusive_load=True)
    nodes, links_load = loads
    assert not any("db_dbnode_pkey" in drop for drop in nodes.drops)  # links, comments, logs refer to it
    assert any(drop.endswith("DROP CONSTRAINT db_dblink_pkey") for drop in links_load.drops)


def test_a_duplicate_id_is_found_when_the_primary_key_is_rebuilt(psql_storage, monkeypatch):
    """Ids come from the sequence; one set back by hand gives ids that exist: the load fails, nothing is written."""
    modes = spy_bulk_load(monkeypatch, type(psql_storage), threshold=100, chunk=50)
    user = _user(psql_storage)
    pks = psql_storage.bulk_insert(
        EntityTypes.NODE, [_node(user, i) for i in range(ROWS)], allow_defaults=True, exclusive_load=True
    )
    links = [{"input_id": a, "output_id": b, "label": "l", "type": "t"} for a, b in itertools.pairwise(pks)]
    sequence = "SELECT setval(pg_get_serial_sequence('db_dblink', 'id'), {})"
    with psql_storage.transaction() as session:
        session.connection().exec_driver_sql(sequence.format(1000))
    psql_storage.bulk_insert(EntityTypes.LINK, links[:10], exclusive_load=True)  # ids 1001 to 1010
    before = schema_snapshot(psql_storage)
    with psql_storage.transaction() as session:
        session.connection().exec_driver_sql(sequence.format(100))  # the next load takes ids 101 to 1089
    modes.clear()
    with pytest.raises(IntegrityError, match=r"^db_dblink: .*db_dblink_pkey.*Key \(id\)=\(\d+\) is duplicated"):
        psql_storage.bulk_insert(EntityTypes.LINK, links[10:], exclusive_load=True)
    assert modes == [True]  # ids 1001 to 1010 went in after the switch, without the key: found when it was rebuilt
    assert schema_snapshot(psql_storage) == before
    count = "SELECT count(*) FROM db_dblink"
    assert psql_storage.get_session().connection().exec_driver_sql(count).scalar() == 10


def test_foreign_keys_to_a_bigger_table_are_checked_without_hash_joins(psql_storage, monkeypatch):
    """Links reference the wider node table: merge join over both indexes; nodes reference tiny users: hash join."""
    spy_bulk_load(monkeypatch, type(psql_storage), threshold=100, chunk=50)
    in_force = {"enable_hashjoin": "on"}
    when_added: dict[str, str] = {}  # foreign key name: enable_hashjoin while it was added and checked

    def record(conn, cursor, statement, parameters, context, executemany):
        if isinstance(parameters, dict) and parameters.get("name") in in_force:
            in_force[parameters["name"]] = parameters["value"]
        added = re.search(r"ADD CONSTRAINT (\w+) FOREIGN KEY", statement)
        if added:
            when_added[added.group(1)] = in_force["enable_hashjoin"]

    engine = psql_storage.get_session().get_bind()
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        user = _user(psql_storage)
        pks = psql_storage.bulk_insert(
            EntityTypes.NODE, [_node(user, i) for i in range(ROWS)], allow_defaults=True, exclusive_load=True
        )
        links = [{"input_id": a, "output_id": b, "label": "l", "type": "t"} for a, b in itertools.pairwise(pks)]
        psql_storage.bulk_insert(EntityTypes.LINK, links, exclusive_load=True)
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert when_added == {
        "fk_db_dbnode_dbcomputer_id_db_dbcomputer": "on",
        "fk_db_dbnode_user_id_db_dbuser": "on",
        "fk_db_dblink_input_id_db_dbnode": "off",
        "fk_db_dblink_output_id_db_dbnode": "off",
    }
    assert in_force["enable_hashjoin"] == "on"  # restored after the rebuild
