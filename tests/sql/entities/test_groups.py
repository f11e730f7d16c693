"""Group membership: add and remove many nodes at once, duplicates ignored, validation before any write."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from provstore.exceptions import IntegrityError, ValidationError

DATA = "data.core.int.Int."


@pytest.fixture
def group(storage):
    return storage.groups.create(label="g", description="a group").store()


def make_nodes(storage, count):
    return [storage.nodes.create(node_type=DATA, label=str(index)).store() for index in range(count)]


def test_add_remove_and_list(storage, group):
    nodes = make_nodes(storage, 5)
    group.add_nodes(nodes[:3])
    assert group.count() == 3
    assert group.nodes == nodes[:3]
    group.add_nodes(nodes[1:] + nodes[1:])  # already there and repeated: ignored
    assert group.nodes == nodes
    group.add_nodes(nodes[0])  # a single node works too
    group.remove_nodes([nodes[0], nodes[4]])
    group.remove_nodes([nodes[0]])  # not a member: ignored
    assert group.nodes == nodes[1:4]
    assert storage.nodes.count() == 5  # removing never deletes nodes


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


def test_membership_needs_stored_nodes_and_group(storage, group):
    stored = make_nodes(storage, 1)
    with pytest.raises(ValidationError, match="stored nodes of this storage"):
        group.add_nodes([*stored, storage.nodes.create(node_type=DATA)])
    with pytest.raises(ValidationError, match="stored nodes of this storage"):
        group.add_nodes([group])
    assert group.count() == 0  # validated before writing
    unstored = storage.groups.create(label="new")
    with pytest.raises(ValidationError, match="store the group"):
        unstored.add_nodes(stored)
    assert unstored.nodes == []
    assert unstored.count() == 0


def test_label_and_type_unique(storage, group):
    with pytest.raises(IntegrityError, match="cannot store group"):
        storage.groups.create(label="g").store()
    storage.groups.create(label="g", type_string="other").store()
    assert storage.groups.count() == 2


def test_delete_group_keeps_nodes(storage, group):
    nodes = make_nodes(storage, 2)
    group.add_nodes(nodes)
    storage.groups.delete(group.pk)
    assert storage.nodes.count() == 2
    assert not group.is_stored
