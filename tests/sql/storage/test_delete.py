"""SQL specifics of delete_nodes_and_connections: chunked DELETEs, the session forgets the rows (behaviour: the kit)."""

from __future__ import annotations

import itertools

import sqlalchemy as sa
from provstore.storage import EntityTypes
from provstore_sql import models
from support.rows import node_row


def _graph(storage, user_id: int, size: int) -> list[int]:
    """Insert a chain of ``size`` nodes with links, a group holding all, one comment and one log per node."""
    pks = storage.bulk_insert(EntityTypes.NODE, (node_row(user_id, i) for i in range(size)), allow_defaults=True)
    storage.bulk_insert(
        EntityTypes.LINK,
        ({"input_id": a, "output_id": b, "label": "l", "type": "create"} for a, b in itertools.pairwise(pks)),
    )
    [group] = storage.bulk_insert(EntityTypes.GROUP, [{"label": "all", "user_id": user_id}], allow_defaults=True)
    storage.bulk_insert(EntityTypes.GROUP_NODE, ({"dbgroup_id": group, "dbnode_id": pk} for pk in pks))
    storage.bulk_insert(EntityTypes.COMMENT, ({"dbnode_id": pk, "user_id": user_id} for pk in pks), allow_defaults=True)
    storage.bulk_insert(
        EntityTypes.LOG,
        ({"dbnode_id": pk, "loggername": "x", "levelname": "INFO"} for pk in pks),
        allow_defaults=True,
    )
    return pks


def _counts(storage) -> dict[str, int]:
    session = storage.get_session()
    models_ = (models.DbNode, models.DbLink, models.DbGroupNode, models.DbComment, models.DbLog)
    return {m.__table__.name: session.scalar(sa.select(sa.func.count()).select_from(m)) for m in models_}


def test_large_deletion_is_chunked(storage, user_id):
    """Every statement binds at most ``delete_chunk_size`` keys, however many nodes are deleted."""
    pks = _graph(storage, user_id, 3000)
    largest = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("DELETE"):
            largest.append(len(parameters))

    engine = storage.get_session().get_bind()
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        with storage.transaction():
            storage.delete_nodes_and_connections(pks)
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert _counts(storage) == dict.fromkeys(_counts(storage), 0)
    assert max(largest) <= storage.dialect.delete_chunk_size
    assert len(largest) >= 3000 // storage.dialect.delete_chunk_size


def test_deleted_nodes_leave_the_session(storage, user_id):
    [pk] = storage.bulk_insert(EntityTypes.NODE, [node_row(user_id)], allow_defaults=True)
    session = storage.get_session()
    node = session.get(models.DbNode, pk)
    with storage.transaction():
        storage.delete_nodes_and_connections([pk])
    assert node not in session
    assert session.get(models.DbNode, pk) is None
