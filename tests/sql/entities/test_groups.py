"""SQL specifics of group membership: one statement per chunk of nodes."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

DATA = "data.core.int.Int."


@pytest.fixture
def group(storage):
    return storage.groups.create(label="g", description="a group").store()


def make_nodes(storage, count):
    return [storage.nodes.create(node_type=DATA, label=str(index)).store() for index in range(count)]


def test_each_add_is_one_statement_per_chunk(storage, group, monkeypatch):
    from provstore_sql.entities import groups

    monkeypatch.setattr(groups, "CHUNK_SIZE", 4)
    nodes = make_nodes(storage, 10)
    statements = []
    engine = storage.get_session().get_bind()

    def record(conn, cursor, statement, *args):
        if "db_dbgroup_dbnodes" in statement:
            statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        group.add_nodes(nodes)
        group.remove_nodes(nodes)
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert [statement.split()[0] for statement in statements] == ["INSERT"] * 3 + ["DELETE"] * 3
