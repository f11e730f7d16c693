"""Create, store, get, update, delete, count and iterate every entity kind; errors change nothing."""

from __future__ import annotations

import datetime
import uuid

import pytest
from provstore.exceptions import IntegrityError, MultipleObjectsError, NotExistent, ValidationError
from provstore.storage import AuthInfo, Comment, Computer, Group, Log, Node, User
from provstore_sql.entities import SqlNode, entity_from_model

DATA = "data.core.int.Int."


def reload(storage, entity):
    """Return a fresh copy of ``entity`` read back from the database."""
    storage.get_session().expire_all()
    return getattr(storage, entity.ENTITY_NAME + "s").get(entity.pk)


def test_collections_implement_the_interfaces(storage):
    computer = storage.computers.create(label="c").store()
    node = storage.nodes.create(node_type=DATA).store()
    entities = [
        storage.users.create(email="u@x"),
        computer,
        storage.authinfos.create(computer=computer),
        storage.groups.create(label="g"),
        node,
        storage.comments.create(node=node, content="hi"),
        storage.logs.create(node=node, loggername="l", levelname="INFO"),
    ]
    for entity, interface in zip(entities, [User, Computer, AuthInfo, Group, Node, Comment, Log], strict=True):
        assert isinstance(entity, interface)


def test_create_is_unstored_until_store(storage):
    user = storage.users.create(email="ada@example.org", first_name="Ada")
    assert not user.is_stored
    assert user.pk is None
    assert storage.users.count() == 0
    assert user.store() is user
    assert user.is_stored
    assert isinstance(user.pk, int)
    assert user.store() is user  # no-op
    fetched = storage.users.get(email="ada@example.org")
    assert fetched == user
    assert fetched.first_name == "Ada"
    assert fetched.last_name == ""


def test_create_defaults(storage):
    node = storage.nodes.create(node_type=DATA)
    assert uuid.UUID(node.uuid)
    assert node.user == storage.default_user
    assert node.computer is None
    assert node.label == node.description == ""
    assert node.attributes == node.extras == node.repository_metadata == {}
    assert node.ctime.tzinfo is not None
    group = storage.groups.create(label="g")
    assert group.type_string == "core"
    assert group.user == storage.default_user


def test_create_validation(storage):
    with pytest.raises(ValidationError, match=r"unknown user field.*colour"):
        storage.users.create(email="a@x", colour="red")
    with pytest.raises(ValidationError, match=r"needs the field.*email"):
        storage.users.create(first_name="x")
    with pytest.raises(ValidationError, match=r"needs the field.*node_type"):
        storage.nodes.create()
    with pytest.raises(ValidationError, match="node_type must not be empty"):
        storage.nodes.create(node_type="")
    with pytest.raises(ValidationError, match="must be a string, got int"):
        storage.users.create(email=5)
    with pytest.raises(ValidationError, match="longer than 254"):
        storage.users.create(email="x" * 255)
    with pytest.raises(ValidationError, match="must be a bool"):
        storage.authinfos.create(computer=storage.computers.create(label="c").store(), enabled="yes")
    with pytest.raises(ValidationError, match="timezone-aware"):
        storage.nodes.create(node_type=DATA, ctime=datetime.datetime(2020, 1, 1))
    with pytest.raises(ValidationError, match="not a valid UUID"):
        storage.nodes.create(node_type=DATA, uuid="nope")
    with pytest.raises(ValidationError, match="must be a stored user"):
        storage.nodes.create(node_type=DATA, user=storage.users.create(email="unstored@x"))
    with pytest.raises(ValidationError, match="must not be None"):
        storage.nodes.create(node_type=DATA, label=None)
    with pytest.raises(ValidationError, match="NUL"):
        storage.nodes.create(node_type=DATA, label="a\x00b")
    with pytest.raises(ValidationError, match="not valid unicode"):
        storage.nodes.create(node_type=DATA, description="\ud800")
    assert storage.nodes.count() == 0


def test_no_user_and_no_default_user(tmp_path):
    from provstore.plugins import get_plugin_manager

    cls = get_plugin_manager().get_storage_backend("core.sqlite_temp")
    with cls(cls.create_profile(default_user_email=None)) as storage:
        with pytest.raises(ValidationError, match=r"no user given .* no default user"):
            storage.nodes.create(node_type=DATA)


def test_timestamps_are_utc(storage):
    moment = datetime.datetime(2020, 1, 2, 3, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
    node = storage.nodes.create(node_type=DATA, ctime=moment).store()
    ctime = reload(storage, node).ctime
    assert ctime == moment
    assert ctime.utcoffset() == datetime.timedelta(0)


def test_update_of_stored_entity_is_written(storage):
    computer = storage.computers.create(label="c", metadata={"cores": 4}).store()
    computer.hostname = "localhost"
    computer.metadata = {"cores": 8}
    fresh = reload(storage, computer)
    assert fresh.hostname == "localhost"
    assert fresh.metadata == {"cores": 8}
    copy = fresh.metadata
    copy["cores"] = 1  # a copy: changing it changes nothing
    assert reload(storage, computer).metadata == {"cores": 8}


def test_invalid_json_field_changes_nothing(storage):
    computer = storage.computers.create(label="c", metadata={"a": 1}).store()
    with pytest.raises(ValidationError, match=r"metadata.*\.b: nan"):
        computer.metadata = {"b": float("nan")}
    assert reload(storage, computer).metadata == {"a": 1}


def test_immutable_fields_of_stored_entities(storage):
    node = storage.nodes.create(node_type=DATA)
    node.uuid = str(uuid.uuid4())  # free before store
    node.store()
    for field, value in [("uuid", str(uuid.uuid4())), ("node_type", "data.other."), ("ctime", node.mtime)]:
        with pytest.raises(IntegrityError, match=f"the {field} of a stored node cannot be changed"):
            setattr(node, field, value)
    assert reload(storage, node).node_type == DATA


def test_unique_violation_is_integrity_error_and_writes_nothing(storage):
    storage.users.create(email="a@x").store()
    duplicate = storage.users.create(email="a@x")
    with pytest.raises(IntegrityError, match="cannot store user"):
        duplicate.store()
    assert not duplicate.is_stored
    assert storage.users.count() == 1
    other = storage.users.create(email="b@x").store()
    with pytest.raises(IntegrityError, match="cannot update user"):
        other.email = "a@x"
    assert other.email == "b@x"  # the failed write is undone in memory too
    assert reload(storage, other).email == "b@x"


def test_unique_violation_inside_transaction_rolls_back_only_that_write(storage):
    with storage.transaction():
        kept = storage.computers.create(label="c").store()
        with pytest.raises(IntegrityError):
            storage.computers.create(label="c").store()
        assert storage.in_transaction
    assert kept.is_stored
    assert storage.computers.count() == 1


def test_store_in_rolled_back_transaction(storage):
    with pytest.raises(RuntimeError), storage.transaction():
        user = storage.users.create(email="gone@x").store()
        assert user.is_stored
        raise RuntimeError
    assert not user.is_stored
    assert user.pk is None
    with pytest.raises(NotExistent):
        storage.users.get(email="gone@x")
    user.store()  # can be stored again afterwards
    assert storage.users.get(email="gone@x") == user


def test_get(storage):
    node = storage.nodes.create(node_type=DATA, label="x").store()
    assert storage.nodes.get(node.pk) == node
    assert storage.nodes.get(uuid=node.uuid) == node
    assert storage.nodes.get(label="x", node_type=DATA) == node
    assert isinstance(storage.nodes.get(node.pk), SqlNode)
    with pytest.raises(NotExistent, match="no node with pk=12345"):
        storage.nodes.get(12345)
    with pytest.raises(NotExistent):
        storage.nodes.get(node.pk, label="other")
    with pytest.raises(ValidationError, match="give a pk"):
        storage.nodes.get()
    with pytest.raises(ValidationError, match="cannot get a node by 'attributes'"):
        storage.nodes.get(attributes={})
    with pytest.raises(ValidationError, match="cannot get a node by 'colour'"):
        storage.nodes.get(colour="red")
    storage.groups.create(label="g", type_string="a").store()
    storage.groups.create(label="g", type_string="b").store()
    with pytest.raises(MultipleObjectsError):
        storage.groups.get(label="g")
    assert storage.groups.get(label="g", type_string="b").type_string == "b"


def test_get_or_create(storage):
    user = storage.users.get_or_create(email="new@x")
    assert user.is_stored
    assert storage.users.get_or_create(email="new@x") == user
    assert storage.users.count() == 1


def test_count_and_iteration(storage, monkeypatch):
    from provstore_sql.entities import base

    monkeypatch.setattr(base, "ITERATION_BATCH_SIZE", 3)
    nodes = [storage.nodes.create(node_type=DATA, label=str(index)).store() for index in range(7)]
    assert storage.nodes.count() == 7
    assert list(storage.nodes) == nodes
    assert [node.label for node in storage.nodes] == [str(index) for index in range(7)]


def test_authinfo(storage):
    computer = storage.computers.create(label="c").store()
    info = storage.authinfos.create(computer=computer, auth_params={"password": "s3cret"}).store()
    assert info.user == storage.default_user
    assert info.enabled is True
    assert storage.authinfos.get(user=storage.default_user, computer=computer) == info
    assert "s3cret" not in repr(info)
    with pytest.raises(IntegrityError):
        storage.authinfos.create(computer=computer).store()
    with pytest.raises(IntegrityError, match="computer of a stored authinfo cannot be changed"):
        info.computer = storage.computers.create(label="d").store()


def test_comment_updates_mtime_not_ctime(storage):
    node = storage.nodes.create(node_type=DATA).store()
    comment = storage.comments.create(node=node, content="first").store()
    ctime, mtime = comment.ctime, comment.mtime
    comment.content = "second"
    fresh = reload(storage, comment)
    assert fresh.content == "second"
    assert fresh.ctime == ctime
    assert fresh.mtime > mtime
    assert fresh.node == node
    assert fresh.user == storage.default_user


def test_log(storage):
    node = storage.nodes.create(node_type=DATA).store()
    log = storage.logs.create(node=node, loggername="engine", levelname="WARNING", metadata={"line": 3}).store()
    fresh = reload(storage, log)
    assert (fresh.loggername, fresh.levelname, fresh.metadata, fresh.node) == ("engine", "WARNING", {"line": 3}, node)
    with pytest.raises(ValidationError, match="longer than 50"):
        log.levelname = "x" * 51
    with pytest.raises(ValidationError, match=r"needs the field.*loggername"):
        storage.logs.create(node=node, levelname="INFO")


def test_delete(storage):
    user = storage.users.create(email="a@x").store()
    storage.users.delete(user.pk)
    assert not user.is_stored
    with pytest.raises(NotExistent):
        storage.users.get(email="a@x")
    with pytest.raises(NotExistent, match="no user with pk=999"):
        storage.users.delete(999)


def test_delete_refused_while_nodes_refer(storage):
    user = storage.users.create(email="a@x").store()
    computer = storage.computers.create(label="c").store()
    storage.nodes.create(node_type=DATA, user=user, computer=computer).store()
    with pytest.raises(IntegrityError, match=r"cannot delete user .*: 1 nodes refer to it"):
        storage.users.delete(user.pk)
    with pytest.raises(IntegrityError, match=r"cannot delete computer .*: 1 nodes refer to it"):
        storage.computers.delete(computer.pk)
    assert storage.users.get(email="a@x") == user
    assert storage.computers.count() == 1


def test_delete_cascades(storage):
    computer = storage.computers.create(label="c").store()
    storage.authinfos.create(computer=computer).store()
    storage.computers.delete(computer.pk)
    assert storage.authinfos.count() == 0

    node = storage.nodes.create(node_type=DATA).store()
    storage.comments.create(node=node, content="x").store()
    storage.logs.create(node=node, loggername="l", levelname="INFO").store()
    group = storage.groups.create(label="g").store()
    group.add_nodes([node])
    storage.nodes.delete(node.pk)
    assert (storage.nodes.count(), storage.comments.count(), storage.logs.count()) == (0, 0, 0)
    assert group.count() == 0


def test_delete_node_with_links_is_refused(storage):
    data = storage.nodes.create(node_type=DATA).store()
    calc = storage.nodes.create(node_type="process.calculation.job.").store()
    calc.add_incoming(data, "input_calc", "x")
    for node in (data, calc):
        with pytest.raises(IntegrityError, match=r"has 1 link.*delete_nodes_and_connections"):
            storage.nodes.delete(node.pk)
    assert storage.nodes.count() == 2
    assert len(calc.get_incoming()) == 1


def test_entity_from_model(storage):
    node = storage.nodes.create(node_type=DATA).store()
    assert entity_from_model(storage, node.model) == node
    with pytest.raises(TypeError, match="DbSetting rows are not entities"):
        from provstore_sql.models import DbSetting

        entity_from_model(storage, DbSetting())


def test_equality_and_hash(storage):
    node = storage.nodes.create(node_type=DATA)
    other = storage.nodes.create(node_type=DATA)
    assert node != other
    assert node == node
    node.store()
    same = storage.nodes.get(node.pk)
    assert same == node
    assert hash(same) == hash(node)
    assert len({node, same, other}) == 2
