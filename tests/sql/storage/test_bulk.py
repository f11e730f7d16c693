"""Bulk insert and update: pks in input order, lazy consumption, validation, all-or-nothing."""

from __future__ import annotations

import datetime
import gc
import math
import uuid

import pytest
import sqlalchemy as sa
from provstore import gc_tuning
from provstore.exceptions import IntegrityError, ValidationError
from provstore.gc_tuning import BULK_YOUNG_THRESHOLD
from provstore.storage import EntityTypes
from provstore_sql import models
from support.rows import node_row, user_row


def _count(storage, model) -> int:
    return storage.get_session().scalar(sa.select(sa.func.count()).select_from(model))


def test_pks_are_returned_in_input_order(storage, user_id):
    rows = [node_row(user_id, i) for i in range(5000)]
    pks = storage.bulk_insert(EntityTypes.NODE, rows, allow_defaults=True)
    assert len(pks) == len(set(pks)) == 5000
    stored = dict(storage.get_session().execute(sa.select(models.DbNode.uuid, models.DbNode.id)).all())
    assert pks == [stored[row["uuid"]] for row in rows]


@pytest.mark.parametrize(
    ("exclusive", "expected"),
    [
        (False, [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]),  # a chunk at a time
        # load mode reads ahead: the threshold's rows and one chunk more (to decide), then a chunk at a time
        (True, [400, 400, 400, 400, 500, 600, 700, 800, 900, 1000]),
    ],
)
def test_generator_is_consumed_in_chunks(storage, user_id, monkeypatch, exclusive, expected):
    dialect = storage.dialect
    monkeypatch.setattr(dialect, "bulk_chunk_size", 100)
    monkeypatch.setattr(dialect, "bulk_load_threshold", 300)
    produced = []

    def rows():
        for i in range(1000):
            produced.append(i)
            yield node_row(user_id, i)

    original = dialect.insert_chunk
    produced_at_insert = []

    def spy(connection, table, chunk, prepare, **kwargs):
        produced_at_insert.append(len(produced))
        return original(connection, table, chunk, prepare, **kwargs)

    monkeypatch.setattr(dialect, "insert_chunk", spy)
    pks = storage.bulk_insert(EntityTypes.NODE, rows(), allow_defaults=True, exclusive_load=exclusive)
    assert len(pks) == 1000
    assert produced_at_insert == expected


def test_complete_rows_needed_without_allow_defaults(storage, user_id):
    row = node_row(user_id)
    with pytest.raises(IntegrityError, match=r"misses keys: .*ctime"):
        storage.bulk_insert(EntityTypes.NODE, [row])
    assert _count(storage, models.DbNode) == 0


def test_complete_rows_accepted_without_allow_defaults(storage, user_id):
    now = datetime.datetime.now(datetime.timezone.utc)
    row = {
        **node_row(user_id),
        "process_type": None,
        "description": "",
        "ctime": now,
        "mtime": now,
        "attributes": {"x": 1},
        "extras": {},
        "repository_metadata": {},
        "dbcomputer_id": None,
    }
    [pk] = storage.bulk_insert(EntityTypes.NODE, [row])
    node = storage.get_session().get(models.DbNode, pk)
    assert node.attributes == {"x": 1}
    assert node.ctime == now
    assert node.ctime.tzinfo is not None


def test_missing_required_key_even_with_defaults(storage):
    with pytest.raises(IntegrityError, match="misses keys: user_id"):
        storage.bulk_insert(EntityTypes.NODE, [{"uuid": str(uuid.uuid4())}], allow_defaults=True)


@pytest.mark.parametrize("bad", [{"id": 5}, {"nonsense": 1}, {"metadata_": {}}])
def test_bad_row_in_the_middle_writes_nothing(storage, user_id, bad):
    rows = [node_row(user_id, i) for i in range(10_000)]
    rows[5000] = {**rows[5000], **bad}
    with pytest.raises(IntegrityError, match="row 5000 has unknown keys"):
        storage.bulk_insert(EntityTypes.NODE, iter(rows), allow_defaults=True)
    assert _count(storage, models.DbNode) == 0
    assert not storage.in_transaction


def test_constraint_violation_in_the_middle_writes_nothing(storage, user_id):
    rows = [node_row(user_id, i) for i in range(10_000)]
    rows[7000]["uuid"] = rows[10]["uuid"]
    with pytest.raises(IntegrityError, match="uuid"):
        storage.bulk_insert(EntityTypes.NODE, rows, allow_defaults=True)
    assert _count(storage, models.DbNode) == 0


def test_dangling_reference_writes_nothing(storage, user_id):
    with pytest.raises(IntegrityError):
        storage.bulk_insert(EntityTypes.NODE, [node_row(user_id), node_row(user_id + 1000)], allow_defaults=True)
    assert _count(storage, models.DbNode) == 0


def test_not_a_mapping(storage):
    with pytest.raises(IntegrityError, match="row 1 is a list"):
        storage.bulk_insert(EntityTypes.USER, [user_row("a@b"), ["x"]])


def test_unknown_entity_type(storage):
    with pytest.raises(IntegrityError, match="unknown entity type"):
        storage.bulk_insert("spaceship", [])


def test_nan_is_refused(storage, user_id):
    with pytest.raises(ValidationError):
        storage.bulk_insert(EntityTypes.NODE, [node_row(user_id, attributes={"x": math.nan})], allow_defaults=True)
    assert _count(storage, models.DbNode) == 0


def test_unicode_is_stored_unescaped(storage, user_id):
    storage.bulk_insert(EntityTypes.NODE, [node_row(user_id, attributes={"name": "Ångström ✓"})], allow_defaults=True)
    raw = storage.get_session().execute(sa.text("SELECT CAST(attributes AS TEXT) FROM db_dbnode")).scalar()
    assert "Ångström ✓" in raw


def test_inside_a_caller_transaction_rolls_back_with_it(storage, user_id):
    with pytest.raises(RuntimeError), storage.transaction():
        storage.bulk_insert(EntityTypes.NODE, [node_row(user_id)], allow_defaults=True)
        assert _count(storage, models.DbNode) == 1
        raise RuntimeError
    assert _count(storage, models.DbNode) == 0


def test_failure_inside_a_caller_transaction_keeps_the_callers_work(storage, user_id):
    with storage.transaction():
        storage.bulk_insert(EntityTypes.NODE, [node_row(user_id)], allow_defaults=True)
        with pytest.raises(IntegrityError):
            storage.bulk_insert(EntityTypes.NODE, [node_row(user_id), {"bad": 1}], allow_defaults=True)
    assert _count(storage, models.DbNode) == 1


def test_links_and_group_nodes(storage, user_id):
    a, b = storage.bulk_insert(EntityTypes.NODE, [node_row(user_id, 0), node_row(user_id, 1)], allow_defaults=True)
    links = storage.bulk_insert(EntityTypes.LINK, [{"input_id": a, "output_id": b, "label": "x", "type": "create"}])
    [group] = storage.bulk_insert(EntityTypes.GROUP, [{"label": "g", "user_id": user_id}], allow_defaults=True)
    storage.bulk_insert(EntityTypes.GROUP_NODE, [{"dbgroup_id": group, "dbnode_id": a}])
    assert len(links) == 1
    assert _count(storage, models.DbGroupNode) == 1


def test_bulk_update(storage, user_id):
    pks = storage.bulk_insert(EntityTypes.NODE, [node_row(user_id, i) for i in range(3000)], allow_defaults=True)
    storage.bulk_update(
        EntityTypes.NODE,
        ({"id": pk, "label": f"new{pk}", **({"extras": {"even": True}} if pk % 2 == 0 else {})} for pk in pks),
    )
    rows = storage.get_session().execute(sa.select(models.DbNode.id, models.DbNode.label, models.DbNode.extras)).all()
    assert all(label == f"new{pk}" for pk, label, _ in rows)
    assert all(extras == ({"even": True} if pk % 2 == 0 else {}) for pk, _, extras in rows)


@pytest.mark.parametrize("bad", [{"label": "x"}, {"id": 1, "nonsense": 2}])
def test_bulk_update_bad_row_changes_nothing(storage, user_id, bad):
    pks = storage.bulk_insert(EntityTypes.NODE, [node_row(user_id, i) for i in range(10)], allow_defaults=True)
    rows = [{"id": pk, "label": "changed"} for pk in pks]
    rows.insert(5, bad)
    with pytest.raises(IntegrityError, match="row 5"):
        storage.bulk_update(EntityTypes.NODE, rows)
    labels = storage.get_session().scalars(sa.select(models.DbNode.label)).all()
    assert "changed" not in labels


def test_bulk_update_constraint_violation_changes_nothing(storage, user_id):
    pks = storage.bulk_insert(EntityTypes.NODE, [node_row(user_id, i) for i in range(3)], allow_defaults=True)
    taken = storage.get_session().get(models.DbNode, pks[0]).uuid
    with pytest.raises(IntegrityError):
        storage.bulk_update(EntityTypes.NODE, [{"id": pks[1], "label": "changed"}, {"id": pks[2], "uuid": taken}])
    assert storage.get_session().get(models.DbNode, pks[1]).label != "changed"


def test_bulk_rows_are_stored_exactly_like_orm_rows(storage, user_id):
    """The fast path must write the same database values as SQLAlchemy (queries compare them as stored)."""
    plus_two = datetime.timezone(datetime.timedelta(hours=2))
    values = {
        "node_type": "data.core.Dict.",
        "label": "same",
        "ctime": datetime.datetime(2024, 5, 6, 7, 8, 9, 0, tzinfo=plus_two),
        "mtime": datetime.datetime(2024, 5, 6, 7, 8, 9, 123456),  # naive: taken as UTC
        "attributes": {"é": [1, 2.5, None, True], "nested": {"k": "ü"}},
        "extras": None,
        "user_id": user_id,
    }
    [bulk_pk] = storage.bulk_insert(EntityTypes.NODE, [{**values, "uuid": str(uuid.uuid4())}], allow_defaults=True)
    with storage.transaction() as session:
        orm = models.DbNode(**values, uuid=str(uuid.uuid4()), repository_metadata={})
        session.add(orm)
        session.flush()
        orm_pk = orm.id
    columns = "CAST(ctime AS TEXT), CAST(mtime AS TEXT), CAST(attributes AS TEXT), CAST(extras AS TEXT)"
    statement = sa.text(f"SELECT {columns} FROM db_dbnode WHERE id = :pk")
    session = storage.get_session()
    bulk_row = session.execute(statement, {"pk": bulk_pk}).one()
    orm_row = session.execute(statement, {"pk": orm_pk}).one()
    assert tuple(bulk_row) == tuple(orm_row)
    stored = session.get(models.DbNode, bulk_pk)
    assert stored.ctime == values["ctime"]
    assert stored.ctime.utcoffset() == datetime.timedelta(0)
    assert stored.mtime == values["mtime"].replace(tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize("field", [{"ctime": "yesterday"}, {"attributes": {"x": object()}}])
def test_unstorable_value(storage, user_id, field):
    with pytest.raises(ValidationError, match="db_dbnode"):
        storage.bulk_insert(EntityTypes.NODE, [node_row(user_id, **field)], allow_defaults=True)
    assert _count(storage, models.DbNode) == 0


@pytest.fixture
def opted_in(monkeypatch):
    """Opt in to the bulk collector setting for the test (as the ``provstore`` command does)."""
    monkeypatch.setattr(gc_tuning, "_enabled", True)


def _thresholds_seen(storage, user_id, seen: list[int], count: int, bad_at: int | None = None):
    for index in range(count):
        seen.append(gc.get_threshold()[0])
        yield {"node_type": "data.core.Int.", "user_id": user_id, "attributes": {"value": index}}
        if index == bad_at:
            yield {"unknown_column": 1}


def test_bulk_insert_leaves_the_collector_alone_unless_opted_in(storage, user_id, monkeypatch):
    monkeypatch.delenv(gc_tuning.TUNING_ENV, raising=False)
    previous, enabled = gc.get_threshold(), gc.isenabled()
    seen: list[int] = []
    gc.set_threshold(700, 10, 10)
    try:
        assert len(
            storage.bulk_insert(EntityTypes.NODE, _thresholds_seen(storage, user_id, seen, 5), allow_defaults=True)
        )
        storage.bulk_update(
            EntityTypes.NODE,
            [
                {"id": pk, "label": "x"}
                for pk in storage.bulk_insert(
                    EntityTypes.NODE,
                    _thresholds_seen(storage, user_id, seen, 5),
                    allow_defaults=True,
                    exclusive_load=True,
                )
            ],
        )
        assert set(seen) == {700}
        assert gc.get_threshold() == (700, 10, 10)
        assert gc.isenabled() is enabled
    finally:
        gc.set_threshold(*previous)


@pytest.mark.usefixtures("opted_in")
def test_opted_in_bulk_insert_runs_with_spaced_collections_and_restores_them(storage, user_id):
    previous = gc.get_threshold()
    seen: list[int] = []
    gc.set_threshold(700, 10, 10)
    try:
        rows = _thresholds_seen(storage, user_id, seen, 5)
        assert len(storage.bulk_insert(EntityTypes.NODE, rows, allow_defaults=True)) == 5
        assert set(seen) == {BULK_YOUNG_THRESHOLD}
        assert gc.get_threshold() == (700, 10, 10)
        with pytest.raises(IntegrityError):
            storage.bulk_insert(EntityTypes.NODE, _thresholds_seen(storage, user_id, seen, 5, 2), allow_defaults=True)
        assert gc.get_threshold() == (700, 10, 10)
    finally:
        gc.set_threshold(*previous)
