"""SQL specifics of transactions: the session yielded, implicit work, thread-bound sessions (behaviour: the kit)."""

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
