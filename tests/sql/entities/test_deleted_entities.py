"""SQL specifics of deleted entities: expired and unloaded ORM objects, rows deleted behind the session's back."""

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


def test_expired_objects_are_matched_too(storage, graph):
    """After a rollback the session's objects are expired: they are still found and marked deleted."""
    storage.get_session().expire_all()
    delete_nodes(storage, graph["data"])
    assert not graph["data"].is_stored
    assert not graph["comment"].is_stored
    assert not graph["log"].is_stored
    assert graph["other_comment"].is_stored


def test_unloaded_and_unknown_pks(storage, graph):
    """Rows never loaded are deleted all the same; pks of no node are ignored."""
    data_pk = graph["data"].pk
    storage.get_session().expunge_all()  # nothing loaded any more
    with storage.transaction():
        storage.delete_nodes_and_connections([data_pk, 10**9])
    assert storage.nodes.count() == 1
    assert storage.comments.count() == 1 and storage.logs.count() == 0


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
