"""After fork() a child uses fresh connections; the parent's sessions and profile lock survive the child."""

from __future__ import annotations

import contextlib
import gc
import os

import pytest
from provstore.exceptions import LockedProfileError
from provstore.plugins import resolve_storage_class
from provstore.storage import EntityTypes
from psql_helpers import maintain_once_released

pytestmark = pytest.mark.postgres


def _fork(child) -> int:
    """Run ``child()`` in a forked process; return its exit code (1 if it raised)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        with contextlib.suppress(BaseException):
            child()
            code = 0
        os._exit(code)
    return pid


def _wait(pid: int) -> int:
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_child_writes_with_its_own_connections_and_parent_keeps_its_own(psql_storage):
    psql_storage.set_global_variable("parent", 1)
    session = psql_storage.get_session()
    parent_backend_pid = session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()

    def child() -> None:
        child_pid = psql_storage.get_session().connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()
        assert child_pid != parent_backend_pid
        psql_storage.bulk_insert(EntityTypes.USER, [{"email": f"child{i}@example.org"} for i in range(3)], True)
        psql_storage.close()
        gc.collect()  # finalise the inherited pool and sessions: must not touch the parent's server sessions

    assert _wait(_fork(child)) == 0
    # the very same server session still serves the parent (no reconnection happened)
    assert session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar() == parent_backend_pid
    assert psql_storage.get_info()["entities"]["users"] == 3
    assert psql_storage.get_global_variable("parent") == 1


def test_child_holds_the_profile_lock_of_its_own(psql_profile, psql_storage):
    ready_read, ready_write = os.pipe()
    go_read, go_write = os.pipe()

    def child() -> None:
        psql_storage.set_global_variable("child", 1)
        os.write(ready_write, b"x")
        os.read(go_read, 1)  # keep the storage open until the parent has checked the lock
        psql_storage.close()

    pid = _fork(child)
    assert os.read(ready_read, 1) == b"x"
    psql_storage.close()  # the parent lets go: only the child uses the profile now
    other = resolve_storage_class(psql_profile)(psql_profile)
    try:
        with pytest.raises(LockedProfileError):
            other.maintain(full=True)
        os.write(go_write, b"x")
        assert _wait(pid) == 0
        maintain_once_released(other, seconds=10)  # the child is gone: exclusive access is granted
        assert other.get_global_variable("child") == 1
    finally:
        other.close()
        for fd in (ready_read, ready_write, go_read, go_write):
            os.close(fd)


def test_child_leaving_the_parents_transaction_cannot_roll_it_back(psql_storage):
    """A child unwinding a ``transaction()`` block it inherited must not send ROLLBACK on the parent's session."""
    parent = os.getpid()
    pid = 0
    try:
        with psql_storage.transaction():
            psql_storage.bulk_insert(EntityTypes.USER, [{"email": "parent@example.org"}], True)
            pid = os.fork()
            if pid == 0:  # pragma: no cover - runs in the child
                raise RuntimeError("the child leaves the block with an error: the session rolls back")
            assert _wait(pid) == 0  # the child is gone before the parent commits
    finally:
        if os.getpid() != parent:  # pragma: no cover - the child stops here, whatever happened
            os._exit(0)
    rows = psql_storage.get_session().connection().exec_driver_sql("SELECT email FROM db_dbuser").scalars().all()
    assert rows == ["parent@example.org"]
