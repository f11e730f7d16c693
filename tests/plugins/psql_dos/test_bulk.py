"""The COPY fast path of bulk_insert: ids in input order, exact round trips, atomic failures, array deletes."""

from __future__ import annotations

import datetime
import itertools
import uuid

import pytest
import sqlalchemy as sa
from provstore.exceptions import IntegrityError, ValidationError
from provstore.storage import EntityTypes
from provstore_sql.bulk.rows import RowPreparer, table_for
from provstore_sql.dialect import SqlDialect

pytestmark = pytest.mark.postgres

NOW = datetime.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=datetime.timezone.utc)
TRICKY = ["tab\there", "new\nline", "cr\rlf", "back\\slash", "\\N", "", "ünïcødé ✓ 🧪", "quote ' \" ,;"]


def _user(storage) -> int:
    return storage.bulk_insert(EntityTypes.USER, [{"email": "bulk@example.org"}], allow_defaults=True)[0]


def _node(user_id: int, **fields) -> dict:
    row = {
        "uuid": str(uuid.uuid4()),
        "node_type": "data.core.Dict.",
        "process_type": None,
        "label": "",
        "description": "",
        "ctime": NOW,
        "mtime": NOW,
        "attributes": {},
        "extras": {},
        "repository_metadata": {},
        "dbcomputer_id": None,
        "user_id": user_id,
    }
    row.update(fields)
    return row


def _rows(storage, sql: str, **params) -> list[tuple]:
    return list(storage.get_session().execute(sa.text(sql), params).all())


def _count(storage) -> int:
    return _rows(storage, "SELECT count(*) FROM db_dbnode")[0][0]


def test_pks_follow_input_order_across_chunks(psql_storage, monkeypatch):
    monkeypatch.setattr(psql_storage.dialect, "bulk_chunk_size", 7)
    user = _user(psql_storage)
    rows = (_node(user, label=f"n{i}") for i in range(50))  # a generator: consumed in chunks
    pks = psql_storage.bulk_insert(EntityTypes.NODE, rows)
    assert len(pks) == 50 and pks == sorted(pks) and len(set(pks)) == 50
    stored = dict(_rows(psql_storage, "SELECT id, label FROM db_dbnode"))
    assert [stored[pk] for pk in pks] == [f"n{i}" for i in range(50)]


def test_values_round_trip_exactly(psql_storage):
    user = _user(psql_storage)
    attributes = {"text": TRICKY, "nested": {"a": [1, 2.5, None, True], "b\tc": "d\\e"}, "big": 2**62, "neg": -1.5e-300}
    rows = [
        _node(user, label=text, description=text, attributes=attributes, extras={"k": text}, process_type=text)
        for text in TRICKY
    ]
    pks = psql_storage.bulk_insert(EntityTypes.NODE, rows)
    stored = {
        row[0]: row[1:]
        for row in _rows(
            psql_storage, "SELECT id, label, description, process_type, attributes, extras, ctime FROM db_dbnode"
        )
    }
    for pk, text in zip(pks, TRICKY, strict=True):
        assert stored[pk] == (text, text, text, attributes, {"k": text}, NOW)


def test_null_handling_matches_the_insert_path(psql_storage):
    """A Python None is SQL NULL in plain columns and JSON null in JSON columns, on both insert paths."""
    user = _user(psql_storage)
    row = _node(user, attributes=None, process_type=None, dbcomputer_id=None)
    copy_pk = psql_storage.bulk_insert(EntityTypes.NODE, [row])[0]
    with psql_storage.transaction() as session:
        generic = SqlDialect.insert_chunk(
            psql_storage.dialect,
            session.connection(),
            table_for(EntityTypes.NODE),
            [{**row, "uuid": str(uuid.uuid4())}],
            RowPreparer(table_for(EntityTypes.NODE), allow_defaults=False),
            first_index=0,
            load=None,
        )[0]
    query = "SELECT id, process_type IS NULL, jsonb_typeof(attributes), dbcomputer_id IS NULL FROM db_dbnode"
    result = {row[0]: row[1:] for row in _rows(psql_storage, query)}
    assert result[copy_pk] == result[generic] == (True, "null", True)


def test_naive_timestamps_are_utc(psql_storage):
    user = _user(psql_storage)
    naive = NOW.replace(tzinfo=None)
    pk = psql_storage.bulk_insert(EntityTypes.NODE, [_node(user, ctime=naive, mtime=naive)])[0]
    assert _rows(psql_storage, "SELECT ctime FROM db_dbnode WHERE id = :pk", pk=pk)[0][0] == NOW


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        ({"attributes": {"x": float("nan")}}, ValidationError, "row 4, column attributes"),
        ({"label": 5}, ValidationError, "row 4, column label: expected a string"),
        ({"user_id": "1"}, ValidationError, "column user_id: expected an integer"),
        ({"ctime": "yesterday"}, ValidationError, "column ctime"),
        ({"label": "nul\x00byte"}, ValidationError, "db_dbnode"),
        ({"attributes": {"x": "nul\x00"}}, ValidationError, "db_dbnode"),
        ({"user_id": 999_999}, IntegrityError, "user_id"),
        ({"uuid": "DUPLICATE"}, IntegrityError, "uuid"),
    ],
)
def test_a_bad_row_in_a_later_chunk_writes_nothing(psql_storage, monkeypatch, bad, error, match):
    monkeypatch.setattr(psql_storage.dialect, "bulk_chunk_size", 2)
    user = _user(psql_storage)
    rows = [_node(user) for _ in range(6)]
    if bad.get("uuid") == "DUPLICATE":
        bad = {"uuid": rows[0]["uuid"]}
    rows[4].update(bad)
    with pytest.raises(error, match=match):
        psql_storage.bulk_insert(EntityTypes.NODE, rows)
    assert _count(psql_storage) == 0
    assert psql_storage.bulk_insert(EntityTypes.NODE, [_node(user)])  # the storage is still usable


def test_failure_inside_an_outer_transaction_rolls_back_to_its_savepoint(psql_storage):
    user = _user(psql_storage)
    with psql_storage.transaction():
        kept = psql_storage.bulk_insert(EntityTypes.NODE, [_node(user)])
        with pytest.raises(ValidationError):
            psql_storage.bulk_insert(EntityTypes.NODE, [_node(user), _node(user, label=1)])
    assert [row[0] for row in _rows(psql_storage, "SELECT id FROM db_dbnode")] == kept


def test_every_entity_type_uses_copy(psql_storage):
    """Rows of every table go through COPY: check the JSON, boolean and foreign-key columns of each."""
    user = _user(psql_storage)
    computer = psql_storage.bulk_insert(
        EntityTypes.COMPUTER, [{"label": "c", "metadata": {"m": 1}}], allow_defaults=True
    )[0]
    psql_storage.bulk_insert(
        EntityTypes.AUTHINFO,
        [{"aiidauser_id": user, "dbcomputer_id": computer, "enabled": False, "auth_params": {"k": "v"}}],
        allow_defaults=True,
    )
    nodes = psql_storage.bulk_insert(EntityTypes.NODE, [_node(user) for _ in range(3)])
    group = psql_storage.bulk_insert(EntityTypes.GROUP, [{"label": "g", "user_id": user}], allow_defaults=True)[0]
    psql_storage.bulk_insert(EntityTypes.GROUP_NODE, [{"dbgroup_id": group, "dbnode_id": pk} for pk in nodes])
    psql_storage.bulk_insert(
        EntityTypes.LINK, [{"input_id": nodes[0], "output_id": nodes[1], "label": "l", "type": "create"}]
    )
    psql_storage.bulk_insert(EntityTypes.COMMENT, [{"dbnode_id": nodes[0], "user_id": user}], allow_defaults=True)
    psql_storage.bulk_insert(
        EntityTypes.LOG, [{"dbnode_id": nodes[0], "loggername": "x", "levelname": "INFO"}], allow_defaults=True
    )
    assert _rows(psql_storage, "SELECT enabled, auth_params->>'k' FROM db_dbauthinfo") == [(False, "v")]
    info = psql_storage.get_info()["entities"]
    assert (info["groups"], info["links"], info["comments"], info["logs"]) == (1, 1, 1, 1)


def test_delete_many_nodes_uses_array_parameters(psql_storage):
    user = _user(psql_storage)
    pks = psql_storage.bulk_insert(EntityTypes.NODE, [_node(user) for _ in range(3000)])
    links = [{"input_id": a, "output_id": b, "label": "l", "type": "create"} for a, b in itertools.pairwise(pks)]
    psql_storage.bulk_insert(EntityTypes.LINK, links)
    statements: list[str] = []
    sa.event.listen(psql_storage._engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with psql_storage.transaction():
        psql_storage.delete_nodes_and_connections(pks[:2000])
    deletes = [sql for sql in statements if sql.lstrip().upper().startswith("DELETE")]
    assert deletes and all("ANY" in sql and len(sql) < 500 for sql in deletes)
    info = psql_storage.get_info()["entities"]
    assert (info["nodes"], info["links"]) == (1000, 999)


def test_attribute_containment_can_use_the_gin_index(psql_storage):
    user = _user(psql_storage)
    psql_storage.bulk_insert(EntityTypes.NODE, [_node(user, attributes={"i": i, "kind": "x"}) for i in range(2000)])
    session = psql_storage.get_session()
    session.execute(sa.text("ANALYZE db_dbnode"))
    # on 2,000 rows the planner may prefer a sequential scan; the question is whether the index can serve @>
    session.execute(sa.text("SET enable_seqscan = off"))
    plan = "\n".join(
        row[0]
        for row in session.execute(sa.text("""EXPLAIN SELECT id FROM db_dbnode WHERE attributes @> '{"i": 7}'"""))
    )
    assert "ix_gin_db_dbnode_attributes" in plan
