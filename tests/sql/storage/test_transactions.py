"""Transactions: the outermost level commits, nested levels are savepoints, an error undoes only its level."""

from __future__ import annotations

import pytest
from provstore.exceptions import ClosedStorage


def test_outermost_commits(storage):
    assert not storage.in_transaction
    with storage.transaction() as session:
        assert storage.in_transaction
        assert session is storage.get_session()
        storage.set_global_variable("a", 1)
    assert not storage.in_transaction
    storage.get_session().rollback()  # nothing pending: the value was committed
    assert storage.get_global_variable("a") == 1


def test_error_rolls_back_everything_at_outermost_level(storage):
    with pytest.raises(ZeroDivisionError), storage.transaction():
        storage.set_global_variable("a", 1)
        with storage.transaction():
            storage.set_global_variable("b", 2)
        1 / 0  # noqa: B018
    assert not storage.in_transaction
    for key in ("a", "b"):
        with pytest.raises(KeyError):
            storage.get_global_variable(key)


def test_nested_error_rolls_back_only_its_savepoint(storage):
    with storage.transaction():
        storage.set_global_variable("outer", 1)
        with pytest.raises(RuntimeError, match="inner"), storage.transaction():
            storage.set_global_variable("inner", 2)
            raise RuntimeError("inner")
        assert storage.in_transaction
        with storage.transaction():
            storage.set_global_variable("sibling", 3)
    assert storage.get_global_variable("outer") == 1
    assert storage.get_global_variable("sibling") == 3
    with pytest.raises(KeyError):
        storage.get_global_variable("inner")


def test_three_levels(storage):
    with storage.transaction():
        storage.set_global_variable("l1", 1)
        with storage.transaction():
            storage.set_global_variable("l2", 2)
            with pytest.raises(ValueError), storage.transaction():
                storage.set_global_variable("l3", 3)
                raise ValueError
            storage.set_global_variable("l2b", 22)
    assert [storage.get_global_variable(k) for k in ("l1", "l2", "l2b")] == [1, 2, 22]
    with pytest.raises(KeyError):
        storage.get_global_variable("l3")


def test_implicit_work_is_committed_when_a_transaction_opens(storage):
    from provstore_sql.models import DbSetting

    session = storage.get_session()
    session.add(DbSetting(key="implicit", val="v", description=""))
    session.flush()
    with pytest.raises(KeyError), storage.transaction():
        raise KeyError("abort the block, not the earlier work")
    session.rollback()
    assert storage.get_global_variable("implicit") == "v"


def test_sessions_are_thread_bound(storage):
    import threading

    seen = []
    thread = threading.Thread(target=lambda: seen.append(storage.get_session()))
    thread.start()
    thread.join()
    assert seen[0] is not storage.get_session()


def test_closed_storage_refuses_everything(storage):
    storage.close()
    for action in (
        storage.get_session,
        storage.transaction().__enter__,
        lambda: storage.in_transaction,
        lambda: storage.bulk_insert("user", []),
        storage.get_repository,
        lambda: storage.get_info(),
        lambda: storage.maintain(),
        lambda: storage.nodes,
    ):
        with pytest.raises(ClosedStorage):
            action()


def test_constraint_failing_at_commit_is_one_integrity_error(storage):
    """A foreign key is checked at commit (deferred): the failure is an IntegrityError, and nothing stays."""
    from provstore.exceptions import IntegrityError
    from provstore.storage import EntityTypes

    with pytest.raises(IntegrityError, match="commit"), storage.transaction():
        storage.bulk_insert(EntityTypes.LINK, [{"input_id": 123, "output_id": 456, "label": "l", "type": "create"}])
        storage.set_global_variable("with-it", 1)
    assert not storage.in_transaction
    with pytest.raises(KeyError):
        storage.get_global_variable("with-it")
    storage.set_global_variable("after", 1)  # the session is usable again
    assert storage.get_global_variable("after") == 1
