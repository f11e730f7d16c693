"""Load mode of bulk_insert(exclusive_load=True): same tables as the default path, schema rebuilt exactly,
failures leave it intact; the default path never enters it."""

from __future__ import annotations

import datetime
import itertools
import uuid

import pytest
import sqlalchemy as sa
from provstore.exceptions import IntegrityError
from provstore.storage import EntityTypes
from provstore_sql import models
from provstore_sql.bulk import load_mode
from provstore_sql.migrator import SqlMigrator
from support.bulk_load_support import schema_snapshot, spy_bulk_load

ROWS = 1200
THRESHOLD = 300
CHUNK = 100
NOW = datetime.datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=datetime.timezone.utc)


@pytest.fixture
def modes(storage, monkeypatch) -> list[bool]:
    """Lower the bulk-load threshold; return the list where every switch decision is appended (True: bulk mode)."""
    return spy_bulk_load(monkeypatch, type(storage), THRESHOLD, CHUNK)


def _nodes(user_id: int, count: int = ROWS) -> list[dict]:
    return [
        {
            "uuid": str(uuid.UUID(int=index + 1)),
            "node_type": f"data.core.T{index % 3}.",
            "process_type": None if index % 2 else f"proc{index % 5}",
            "label": f"node {index}",
            "description": "",
            "ctime": NOW,
            "mtime": NOW + datetime.timedelta(seconds=index),
            "attributes": {"i": index, "tags": ["a", index % 7]},
            "extras": {},
            "repository_metadata": {},
            "dbcomputer_id": None,
            "user_id": user_id,
        }
        for index in range(count)
    ]


def _links(pks: list[int]) -> list[dict]:
    return [{"input_id": a, "output_id": b, "label": f"l{a % 4}", "type": "create"} for a, b in itertools.pairwise(pks)]


def _table(storage, model) -> list[tuple]:
    table = model.__table__
    return [tuple(row) for row in storage.get_session().execute(sa.select(table).order_by(table.c.id)).all()]


def _count(storage, model) -> int:
    return storage.get_session().scalar(sa.select(sa.func.count()).select_from(model))


def _load(storage, user_id: int, exclusive: bool = True) -> tuple[list[int], list[int], list[tuple], list[tuple]]:
    """Insert the nodes, then links chaining them, from generators; return pks and both tables without ids."""
    node_pks = storage.bulk_insert(EntityTypes.NODE, iter(_nodes(user_id)), exclusive_load=exclusive)
    link_pks = storage.bulk_insert(EntityTypes.LINK, iter(_links(node_pks)), exclusive_load=exclusive)
    nodes, links = _table(storage, models.DbNode), _table(storage, models.DbLink)
    assert [row[0] for row in nodes] == node_pks  # pks in input order: the rows were given in pk order
    assert [row[0] for row in links] == link_pks
    position = {pk: index for index, pk in enumerate(node_pks)}  # links compared by node position, not pk
    return node_pks, link_pks, [row[1:] for row in nodes], [(position[r[1]], position[r[2]], *r[3:]) for r in links]


def test_both_modes_store_identical_tables(storage, user_id, monkeypatch, modes):
    before = schema_snapshot(storage)
    _, _, bulk_nodes, bulk_links = _load(storage, user_id)
    assert modes == [True, True]  # both calls ran in bulk-load mode
    assert schema_snapshot(storage) == before

    storage._clear()
    user_id = storage.bulk_insert(EntityTypes.USER, [{"email": "again@example.org"}], allow_defaults=True)[0]
    _, _, row_nodes, row_links = _load(storage, user_id, exclusive=False)
    assert modes == [True, True]  # the default path asks nothing
    user_column = [column.name for column in models.DbNode.__table__.columns[1:]].index("user_id")
    assert [row[:user_column] for row in bulk_nodes] == [row[:user_column] for row in row_nodes]
    assert bulk_links == row_links


def test_big_table_keeps_the_row_by_row_path(storage, user_id, modes):
    storage.bulk_insert(EntityTypes.NODE, _nodes(user_id, 2 * THRESHOLD + 1), exclusive_load=True)
    assert modes == [True]
    more = [{**row, "uuid": str(uuid.uuid4())} for row in _nodes(user_id, THRESHOLD + CHUNK)]
    storage.bulk_insert(
        EntityTypes.NODE, more, exclusive_load=True
    )  # the table held more than the 300 rows loaded: no bulk load
    assert modes == [True, False]
    assert _count(storage, models.DbNode) == 3 * THRESHOLD + CHUNK + 1


def test_no_bulk_load_when_the_threshold_is_reached_by_the_last_rows(storage, user_id, modes):
    storage.bulk_insert(
        EntityTypes.NODE, iter(_nodes(user_id, THRESHOLD)), exclusive_load=True
    )  # nothing would follow the switch
    assert modes == []
    assert _count(storage, models.DbNode) == THRESHOLD


def test_the_check_is_repeated_each_time_the_load_doubled(storage, user_id, modes):
    storage.bulk_insert(EntityTypes.NODE, _nodes(user_id, THRESHOLD + 100), allow_defaults=True, exclusive_load=True)
    modes.clear()
    more = [{**row, "uuid": str(uuid.uuid4())} for row in _nodes(user_id, ROWS)]
    storage.bulk_insert(EntityTypes.NODE, iter(more), exclusive_load=True)
    assert modes == [False, True]  # 400 rows were there: not at 300 rows loaded, at 600
    assert _count(storage, models.DbNode) == THRESHOLD + 100 + ROWS


def test_duplicate_key_in_bulk_mode_writes_nothing_and_keeps_the_schema(storage, user_id, modes):
    before = schema_snapshot(storage)
    rows = _nodes(user_id)
    rows[ROWS - 1]["uuid"] = rows[THRESHOLD + 50]["uuid"]  # both after the switch to bulk-load mode
    with pytest.raises(IntegrityError, match=r"^db_dbnode: .*uuid") as info:
        storage.bulk_insert(EntityTypes.NODE, rows, exclusive_load=True)
    assert "\n" not in str(info.value)
    assert modes == [True]
    assert _count(storage, models.DbNode) == 0
    assert schema_snapshot(storage) == before
    assert storage.bulk_insert(EntityTypes.NODE, _nodes(user_id, 5), exclusive_load=True)  # still usable


def test_dangling_link_in_bulk_mode_writes_nothing_and_keeps_the_schema(storage, user_id, modes):
    pks = storage.bulk_insert(EntityTypes.NODE, _nodes(user_id, 10), exclusive_load=True)
    before = schema_snapshot(storage)
    links = [{"input_id": pks[i % 10], "output_id": pks[(i + 1) % 10], "label": "x", "type": "t"} for i in range(ROWS)]
    links[ROWS - 7]["output_id"] = max(pks) + 1000
    with pytest.raises(IntegrityError, match=r"(?i)foreign key") as info:
        storage.bulk_insert(EntityTypes.LINK, links, exclusive_load=True)
    assert "\n" not in str(info.value)
    assert modes == [True]
    assert _count(storage, models.DbLink) == 0
    assert schema_snapshot(storage) == before


def test_schema_matches_the_models_after_bulk_loads(storage, user_id, modes):
    _load(storage, user_id)
    assert modes == [True, True]
    storage.get_session().commit()
    with SqlMigrator.connect(storage._engine, storage.profile.name) as migrator:
        assert migrator.schema_differences() == []


def test_bulk_mode_inside_a_caller_transaction_rolls_back_with_it(storage, user_id, modes):
    before = schema_snapshot(storage)
    with pytest.raises(RuntimeError), storage.transaction():
        storage.bulk_insert(EntityTypes.NODE, _nodes(user_id), exclusive_load=True)
        assert _count(storage, models.DbNode) == ROWS
        raise RuntimeError
    assert modes == [True]
    assert _count(storage, models.DbNode) == 0
    assert schema_snapshot(storage) == before


def test_the_default_path_never_enters_load_mode_even_for_a_large_insert(storage, user_id, modes, monkeypatch):
    begun: list[object] = []
    monkeypatch.setattr(load_mode.BulkLoad, "begin", classmethod(lambda cls, *args: begun.append(args)))
    monkeypatch.setattr(load_mode.BulkLoad, "holds_at_most", staticmethod(lambda *args: begun.append(args) or True))
    before = schema_snapshot(storage)
    storage.bulk_insert(EntityTypes.NODE, iter(_nodes(user_id, 10 * THRESHOLD)))  # into an empty table, 10 x
    assert begun == [] and modes == []  # not even asked
    assert _count(storage, models.DbNode) == 10 * THRESHOLD
    assert schema_snapshot(storage) == before
