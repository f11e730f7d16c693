"""Entities held in memory know when their rows were deleted, whichever way they were deleted."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from provstore.exceptions import NotExistent
from provstore_sql import models

DATA = "data.core.dict.Dict."
CALC = "process.calculation.job."

GONE = r"node \d+ was deleted from the storage; create a new node instead"


@pytest.fixture
def graph(storage):
    """A data node (with a comment, a log and a file) input of a calculation that has its own comment."""
    data = storage.nodes.create(node_type=DATA, label="in", attributes={"x": 1}, extras={"e": 2})
    data.put_object_from_bytes(b"content", "file.txt")
    data.store()
    calc = storage.nodes.create(node_type=CALC).store()
    calc.add_incoming(data, "input_calc", "x")
    return {
        "data": data,
        "calc": calc,
        "comment": storage.comments.create(node=data, content="on data").store(),
        "log": storage.logs.create(node=data, loggername="l", levelname="INFO").store(),
        "other_comment": storage.comments.create(node=calc, content="on calc").store(),
    }


def delete_nodes(storage, *nodes):
    with storage.transaction():
        storage.delete_nodes_and_connections([node.pk for node in nodes])


def test_held_node_is_no_longer_stored(storage, graph):
    data = graph["data"]
    pk, uuid = data.pk, data.uuid
    delete_nodes(storage, data)
    assert not data.is_stored
    assert data.pk is None
    assert repr(data) == f"<{type(data).__name__} pk={pk} deleted>"
    assert data != storage.nodes.create(node_type=DATA)  # not equal to another unstored node
    # its last values stay readable, as after collection.delete or in any ORM
    assert (data.label, data.attributes, data.extras) == ("in", {"x": 1}, {"e": 2})
    with pytest.raises(NotExistent, match=f"no node with pk={pk}"):
        storage.nodes.get(pk)
    with pytest.raises(NotExistent, match="no node with uuid="):
        storage.nodes.get(uuid=uuid)
    storage.get_session().expire_all()
    with pytest.raises(NotExistent):
        storage.nodes.get(pk)
    assert storage.query().append("node", filters={"id": pk}).count() == 0
    assert graph["calc"].get_incoming() == []


def test_held_comments_and_logs_of_deleted_nodes_are_no_longer_stored(storage, graph):
    delete_nodes(storage, graph["data"])
    assert not graph["comment"].is_stored
    assert not graph["log"].is_stored
    assert graph["comment"].node is None  # the node it referred to is gone too
    assert graph["other_comment"].is_stored  # the calculation's comment stays
    graph["other_comment"].content = "still writable"
    assert storage.comments.get(graph["other_comment"].pk).content == "still writable"
    assert graph["calc"].is_stored
    assert storage.comments.count() == 1 and storage.logs.count() == 0


@pytest.mark.parametrize(
    "write",
    [
        lambda node: node.store(),
        lambda node: node.set_extra("e", 3),
        lambda node: setattr(node, "label", "renamed"),
        lambda node: node.put_object_from_bytes(b"new", "new.txt"),
        lambda node: node.delete_object("file.txt"),
    ],
    ids=["store", "set_extra", "label", "put_object", "delete_object"],
)
def test_writes_to_a_deleted_node_are_refused(storage, graph, write):
    data = graph["data"]
    objects = set(storage.get_repository().list_objects())
    delete_nodes(storage, data)
    with pytest.raises(NotExistent, match=GONE):
        write(data)
    assert storage.nodes.count() == 1  # nothing was brought back
    assert set(storage.get_repository().list_objects()) == objects  # no file content written for nothing
    assert data.label == "in"


def test_writes_to_a_deleted_process_node_and_comment_are_refused(storage, graph):
    calc, comment = graph["calc"], graph["comment"]
    delete_nodes(storage, calc, graph["data"])
    with pytest.raises(NotExistent, match=GONE):
        calc.set_attribute("state", "running")
    with pytest.raises(NotExistent, match=GONE):
        calc.seal()
    with pytest.raises(NotExistent, match=r"comment \d+ was deleted"):
        comment.content = "edited"
    with pytest.raises(NotExistent, match=r"comment \d+ was deleted"):
        comment.store()
    assert storage.nodes.count() == storage.comments.count() == 0


def test_every_copy_of_the_node_in_memory_knows(storage, graph):
    """Entities from get, links, groups and iteration share the session's one object per row."""
    data = graph["data"]
    group = storage.groups.create(label="g").store()
    group.add_nodes([data])
    copies = [
        storage.nodes.get(data.pk),
        graph["calc"].get_incoming()[0].node,
        group.nodes[0],
        next(node for node in storage.nodes if node.pk == data.pk),
    ]
    assert all(copy.is_stored for copy in copies)
    delete_nodes(storage, data)
    assert not any(copy.is_stored for copy in copies)
    assert group.count() == 0


def test_expired_objects_are_matched_too(storage, graph):
    """After a rollback the session's objects are expired: they are still found and marked deleted."""
    storage.get_session().expire_all()
    delete_nodes(storage, graph["data"])
    assert not graph["data"].is_stored
    assert not graph["comment"].is_stored
    assert not graph["log"].is_stored
    assert graph["other_comment"].is_stored


def test_rollback_restores_the_stored_state(storage, graph):
    data, comment = graph["data"], graph["comment"]
    pk = data.pk
    with pytest.raises(RuntimeError), storage.transaction():
        storage.delete_nodes_and_connections([pk])
        assert not data.is_stored and not comment.is_stored  # deleted inside the transaction already
        raise RuntimeError
    assert data.is_stored and data.pk == pk
    assert comment.is_stored
    data.set_extra("after", "rollback")
    storage.get_session().expire_all()
    assert storage.nodes.get(pk).extras == {"e": 2, "after": "rollback"}
    assert len(graph["calc"].get_incoming()) == 1


def test_savepoint_rollback_restores_the_stored_state(storage, graph):
    data, calc = graph["data"], graph["calc"]
    with storage.transaction():
        with pytest.raises(RuntimeError), storage.transaction():
            storage.delete_nodes_and_connections([data.pk])
            raise RuntimeError
        assert data.is_stored
        storage.delete_nodes_and_connections([calc.pk])
    assert data.is_stored and not calc.is_stored
    assert [node.pk for node in storage.nodes] == [data.pk]


def test_unloaded_and_unknown_pks(storage, graph):
    """Rows never loaded are deleted all the same; pks of no node are ignored."""
    data_pk = graph["data"].pk
    storage.get_session().expunge_all()  # nothing loaded any more
    with storage.transaction():
        storage.delete_nodes_and_connections([data_pk, 10**9])
    assert storage.nodes.count() == 1
    assert storage.comments.count() == 1 and storage.logs.count() == 0


@pytest.mark.parametrize("kind", ["nodes", "groups", "comments", "logs", "computers", "users"])
def test_collection_delete_behaves_the_same(storage, graph, kind):
    """collection.delete(pk) leaves a held entity in the same state as delete_nodes_and_connections."""
    entity = {
        "nodes": lambda: storage.nodes.create(node_type=DATA).store(),
        "groups": lambda: storage.groups.create(label="g").store(),
        "comments": lambda: graph["comment"],
        "logs": lambda: graph["log"],
        "computers": lambda: storage.computers.create(label="c").store(),
        "users": lambda: storage.users.create(email="gone@example.org").store(),
    }[kind]()
    pk = entity.pk
    getattr(storage, kind).delete(pk)
    assert not entity.is_stored and entity.pk is None
    assert repr(entity).endswith(f"pk={pk} deleted>")
    with pytest.raises(NotExistent, match=rf"{entity.ENTITY_NAME} {pk} was deleted"):
        entity.store()
    with pytest.raises(NotExistent):
        getattr(storage, kind).get(pk)


def test_collection_delete_of_a_node_takes_its_held_comments_and_logs(storage):
    node = storage.nodes.create(node_type=DATA).store()
    comment = storage.comments.create(node=node, content="c").store()
    log = storage.logs.create(node=node, loggername="l", levelname="INFO").store()
    unloaded = storage.comments.create(node=node, content="not held").store().pk
    storage.get_session().expunge(storage.get_session().get(models.DbComment, unloaded))
    storage.nodes.delete(node.pk)
    assert not node.is_stored and not comment.is_stored and not log.is_stored
    assert storage.comments.count() == storage.logs.count() == 0  # the database cascades the rest
    with pytest.raises(NotExistent, match=r"comment \d+ was deleted"):
        comment.content = "edited"


def test_deleted_node_cannot_be_used_elsewhere(storage, graph):
    data = graph["data"]
    delete_nodes(storage, data)
    other = storage.nodes.create(node_type=CALC).store()
    with pytest.raises(Exception, match="must be a stored node"):
        other.add_incoming(data, "input_calc", "y")
    with pytest.raises(Exception, match="must be a stored node"):
        storage.comments.create(node=data)


def test_row_deleted_behind_the_sessions_back(storage, graph):
    """A row deleted where this session cannot see it (another thread or process) gives NotExistent, not a crash."""
    calc = graph["calc"]
    pk = calc.pk
    table = models.DbNode.__table__
    with storage.transaction() as session:
        for model in (models.DbLink, models.DbComment):
            session.execute(sa.delete(model.__table__))
        session.execute(sa.delete(table).where(table.c.id == calc.pk))
    with pytest.raises(NotExistent, match=rf"cannot update node {pk}: it was deleted from the storage meanwhile"):
        calc.set_extra("e", 1)
    storage.get_session().expire_all()  # as after any rollback: the next read goes to the database
    with pytest.raises(NotExistent, match=rf"node {pk} was deleted from the storage"):
        calc.label  # noqa: B018
    assert graph["data"].label == "in"


def test_user_deletion_takes_its_held_groups_comments_and_authinfos(storage):
    """The database cascades a user's groups, comments and authinfos: the held ones say so too."""
    user = storage.users.create(email="leaving@example.org").store()
    computer = storage.computers.create(label="c").store()
    node = storage.nodes.create(node_type=DATA).store()  # the default user's: the user stays deletable
    group = storage.groups.create(label="g", user=user).store()
    group.add_nodes([node])
    comment = storage.comments.create(node=node, user=user, content="c").store()
    authinfo = storage.authinfos.create(computer=computer, user=user).store()
    kept = storage.comments.create(node=node, content="by the default user").store()
    storage.users.delete(user.pk)
    assert not any(entity.is_stored for entity in (user, group, comment, authinfo))
    assert node.is_stored and computer.is_stored and kept.is_stored
    assert storage.groups.count() == storage.authinfos.count() == 0
    assert storage.comments.count() == 1
    with pytest.raises(NotExistent, match=r"group \d+ was deleted"):
        group.label = "renamed"


def test_computer_deletion_takes_its_held_authinfos(storage):
    computer = storage.computers.create(label="c").store()
    authinfo = storage.authinfos.create(computer=computer).store()
    storage.computers.delete(computer.pk)
    assert not computer.is_stored and not authinfo.is_stored
    with pytest.raises(NotExistent, match=r"authinfo \d+ was deleted"):
        authinfo.store()
