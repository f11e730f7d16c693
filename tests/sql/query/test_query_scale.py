"""Behaviour that only shows with many rows: streaming memory of iterall, GIN index use on PostgreSQL."""

from __future__ import annotations

import gc
import tracemalloc

import pytest
from provstore.storage import EntityTypes
from sqlalchemy import text


def _insert_nodes(storage, count, attributes):
    user = storage.bulk_insert(EntityTypes.USER, [{"email": "many@example.org"}], allow_defaults=True)[0]
    rows = ({"node_type": "data.x.", "user_id": user, "attributes": attributes(i), "extras": {}} for i in range(count))
    return storage.bulk_insert(EntityTypes.NODE, rows, allow_defaults=True)


def _peak(function):
    """Return the peak of Python memory allocated while ``function`` runs (bytes) and its result."""
    gc.collect()
    tracemalloc.start()
    try:
        result = function()
        return tracemalloc.get_traced_memory()[1], result
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_iterall_streams_100k_rows_in_bounded_memory(storage):
    """Iterating 100k rows in batches of 500 peaks far below what all() needs to hold them."""
    count = 100_000
    _insert_nodes(storage, count, lambda i: {"i": i, "text": f"row {i} " + "x" * 40})
    query = storage.query().append("node", project=["id", "attributes.i", "attributes.text"])

    def stream():
        total = 0
        for _, value, _ in query.iterall(batch_size=500):
            total += value
        return total

    all_peak, rows = _peak(query.all)
    assert len(rows) == count
    del rows
    stream_peak, total = _peak(stream)
    assert total == count * (count - 1) // 2
    print(f"tracemalloc peak: all() {all_peak / 1e6:.1f} MB, iterall(500) {stream_peak / 1e6:.1f} MB")
    assert stream_peak < all_peak / 10


def test_iterall_uses_a_server_side_cursor_on_postgresql(storage):
    """On PostgreSQL the rows stay on the server: a cursor is open while iterating, closed afterwards.

    Outside a transaction the query streams on a connection of its own (seen from another one as an open
    transaction that declared a cursor); inside ``transaction()`` on the session's (seen in ``pg_cursors``).
    """
    if storage.dialect_name != "postgresql":
        pytest.skip("server-side cursors are a PostgreSQL feature; SQLite steps through rows as they are read")
    _insert_nodes(storage, 50, lambda i: {"i": i})

    def streaming_elsewhere():
        with storage.connection() as connection:
            return connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND state = 'idle in transaction' "
                    "AND (query LIKE 'DECLARE%CURSOR%' OR query LIKE 'FETCH%')"
                )
            ).scalar_one()

    rows = storage.query().append("node", project="id").iterall(batch_size=10)
    next(rows)
    assert streaming_elsewhere() == 1
    assert len(list(rows)) == 49
    assert streaming_elsewhere() == 0

    with storage.transaction() as session:

        def open_cursors():
            return session.execute(text("SELECT count(*) FROM pg_cursors")).scalar_one()

        rows = storage.query().append("node", project="id").iterall(batch_size=10)
        next(rows)
        assert open_cursors() == 1
        assert len(list(rows)) == 49
        assert open_cursors() == 0


def _plan(storage, query):
    statement, _ = query._statement()
    session = storage.get_session()
    compiled = statement.compile(dialect=session.get_bind().dialect)
    lines = session.connection().exec_driver_sql("EXPLAIN " + str(compiled), compiled.params).scalars().all()
    return "\n".join(lines)


def test_postgresql_json_filters_use_the_gin_index(storage):
    """==, in, contains and has_key on attributes/extras paths are served by the GIN indexes."""
    session = storage.get_session()
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("the GIN indexes exist on PostgreSQL only")
    pks = _insert_nodes(storage, 20_000, lambda i: {"i": i, "nested": {"k": i % 7, "list": [i % 5, "x"]}, "s": f"s{i}"})
    storage.bulk_update(EntityTypes.NODE, [{"id": pks[0], "extras": {"tag": "only"}}])
    for index in ("ix_gin_db_dbnode_attributes", "ix_gin_db_dbnode_extras"):  # what autovacuum does in production
        session.execute(text("SELECT gin_clean_pending_list(CAST(:index AS regclass))"), {"index": index})
    session.execute(text("ANALYZE db_dbnode"))
    selective = [
        ({"attributes.i": 12345}, "ix_gin_db_dbnode_attributes"),
        ({"attributes": {"contains": {"s": "s77"}}}, "ix_gin_db_dbnode_attributes"),
        ({"extras.tag": "only"}, "ix_gin_db_dbnode_extras"),
        ({"extras": {"has_key": "tag"}}, "ix_gin_db_dbnode_extras"),
    ]
    for filters, index in selective:  # chosen by the planner on its own with 20k rows
        plan = _plan(storage, storage.query().append("node", filters=filters, project="id"))
        assert index in plan, f"{filters}:\n{plan}"
    assert storage.query().append("node", filters={"attributes.i": 12345}).count() == 1
    with storage.transaction():
        session.execute(text("SET LOCAL enable_seqscan = off"))
        usable = [
            {"attributes.nested.k": 3},
            {"attributes.nested.list.0": 2},
            {"attributes.nested": {"contains": {"list": [4]}}},
            {"attributes.i": {"in": [1, 2, 3]}},
            {"attributes.nested.list": {"==": [1, "x"]}},
            {"extras": {"contains": {"tag": "only"}}},
            {"attributes.nested": {"has_key": "k"}},
        ]
        for filters in usable:
            plan = _plan(storage, storage.query().append("node", filters=filters, project="id"))
            assert "Bitmap Index Scan on ix_gin_db_dbnode_" in plan, f"{filters}:\n{plan}"


def test_postgresql_json_ranges_are_estimated_from_the_statistics(storage):
    """The planner's row estimate of a JSON range follows the data (``@@`` reads the column's statistics).

    A CASE on ``jsonb_typeof`` got one fixed guess (half the rows) whatever the bound; joins are planned from it.
    """
    if storage.dialect_name != "postgresql":
        pytest.skip("planner estimates are PostgreSQL's")
    _insert_nodes(storage, 20_000, lambda i: {"i": i, "s": f"s{i:05d}"})
    session = storage.get_session()
    session.execute(text("ANALYZE db_dbnode"))
    session.commit()
    cases = [({"attributes.i": {">": 18_000}}, 1_999), ({"attributes.i": {"<=": 2_000}}, 2_001)]
    cases += [({"attributes.s": {"<": "s01500"}}, 1_500), ({"attributes.s": {">=": "s18500"}}, 1_500)]
    for filters, rows in cases:
        query = storage.query().append("node", filters=filters, project="id")
        assert query.count() == rows
        estimate = int(_plan(storage, query).split(" rows=")[1].split()[0])
        assert rows / 3 <= estimate <= rows * 3, f"{filters}: estimated {estimate} rows, {rows} match"
