"""Several processes on one core.sqlite_dos storage, and backends surviving os.fork."""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys

import pytest
from provstore.plugins import resolve_storage_class
from provstore.storage import EntityTypes
from provstore.testing.profiles import make_profile
from support.child import run_with_profile
from support.rows import node_row, user_row

_WRITER = """
import json, sys, uuid
from provstore.config import Profile
from provstore.plugins import resolve_storage_class
from provstore.storage import EntityTypes
profile = Profile("p", json.loads(sys.argv[1]))
worker = int(sys.argv[2])
with resolve_storage_class(profile)(profile) as storage:
    for i in range(40):
        with storage.transaction():
            storage.set_global_variable(f"w{worker}-{i}", i)
        storage.bulk_insert(
            EntityTypes.NODE,
            [{"uuid": str(uuid.uuid4()), "user_id": 1, "label": f"{worker}"} for _ in range(25)],
            allow_defaults=True,
        )
        storage.get_info()  # a read between writes keeps an implicit read transaction around
"""


@pytest.fixture
def dos_storage(tmp_path):
    profile = make_profile("core.sqlite_dos", tmp_path, busy_timeout=30)
    resolve_storage_class(profile).initialise(profile)
    storage = resolve_storage_class(profile)(profile)
    yield storage
    storage.close()


@pytest.mark.slow
def test_concurrent_writers_never_see_database_is_locked(dos_storage):
    dos_storage.bulk_insert(EntityTypes.USER, [user_row()])
    arguments = json.dumps(dos_storage.profile.dictionary)
    workers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, arguments, str(n)], stderr=subprocess.PIPE, text=True)
        for n in range(4)
    ]
    errors = [worker.communicate(timeout=300)[1] for worker in workers]
    assert [worker.returncode for worker in workers] == [0] * 4, "\n".join(errors)
    info = dos_storage.get_info()
    assert info["entities"]["nodes"] == 4 * 40 * 25
    assert dos_storage.get_global_variable("w3-39") == 39


def _child_writes(storage, queue) -> None:
    try:
        storage.set_global_variable("from-child", True)
        queue.put(storage.get_info()["entities"]["nodes"])
    except Exception as exc:
        queue.put(repr(exc))


def test_backend_survives_fork(storage, user_id):
    """A forked child gets its own connections; the parent's keep working afterwards."""
    storage.bulk_insert(EntityTypes.NODE, [node_row(user_id)], allow_defaults=True)
    storage.get_global_variable("repository|uuid")  # the parent now holds a pooled connection and a session
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_child_writes, args=(storage, queue))
    child.start()
    result = queue.get(timeout=60)
    child.join(timeout=60)
    assert result == 1
    assert child.exitcode == 0
    storage.bulk_insert(EntityTypes.NODE, [node_row(user_id, 1)], allow_defaults=True)
    assert storage.get_info()["entities"]["nodes"] == 2
    if storage.profile.storage_backend != "core.sqlite_temp":  # shared database: the child's write is visible
        assert storage.get_global_variable("from-child") is True


_EXCLUSIVE = """
import json, sys
from provstore.config import Profile
from provstore.plugins import resolve_storage_class
from provstore.exceptions import LockedProfileError
profile = Profile("p", json.loads(sys.argv[1]))
lock = resolve_storage_class(profile).dialect.profile_lock(profile)
try:
    with lock.exclusive():
        print("exclusive")
except LockedProfileError:
    print("locked")
"""


def _child_maintains_then_closes(storage) -> None:
    """Exit 3 if full maintenance was (rightly) refused: the parent is still using the profile."""
    from provstore.exceptions import LockedProfileError

    try:
        storage.maintain(full=True)
    except LockedProfileError:
        storage.close()
        sys.exit(3)
    storage.close()


def test_forked_child_has_its_own_profile_lock(dos_storage):
    """The child must not inherit the parent's lock: its full maintenance is refused, its close frees nothing."""
    context = multiprocessing.get_context("fork")
    child = context.Process(target=_child_maintains_then_closes, args=(dos_storage,))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 3
    assert run_with_profile(_EXCLUSIVE, dos_storage.profile) == "locked"  # the parent still holds its shared lock
    dos_storage.close()
    assert run_with_profile(_EXCLUSIVE, dos_storage.profile) == "exclusive"


_SET = """
import json, sys
from provstore.config import Profile
from provstore.plugins import resolve_storage_class
profile = Profile("p", json.loads(sys.argv[1]))
with resolve_storage_class(profile)(profile) as storage:
    storage.set_global_variable("counter", int(sys.argv[2]))
"""


def test_reads_see_writes_committed_by_other_processes_since(dos_storage):
    """Reading outside a transaction must not pin an old snapshot (PostgreSQL's read committed behaves so too)."""
    arguments = json.dumps(dos_storage.profile.dictionary)
    for value in (1, 2):
        subprocess.run([sys.executable, "-c", _SET, arguments, str(value)], check=True, timeout=120)
        assert dos_storage.get_global_variable("counter") == value


def test_opening_a_database_another_process_holds_exclusively_is_one_clear_error(tmp_path):
    """A database held in exclusive locking mode (as a store on a full disk without its -shm file is opened) is a
    LockedProfileError naming the profile and saying to wait, not a bare 'database is locked'."""
    import sqlite3

    from provstore.exceptions import LockedProfileError

    profile = make_profile("core.sqlite_dos", tmp_path, busy_timeout=0.2)
    resolve_storage_class(profile).initialise(profile)
    holder = sqlite3.connect(resolve_storage_class(profile).dialect.database_path(profile), isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("COMMIT")  # the exclusive lock stays until the connection closes
    try:
        with pytest.raises(LockedProfileError) as info:
            resolve_storage_class(profile)(profile)
        message = str(info.value)
        assert "\n" not in message and repr(profile.name) in message and "another process" in message, message
    finally:
        holder.close()
    with resolve_storage_class(profile)(profile) as storage:  # opens once the other process lets go
        assert storage.get_info()["entities"]["nodes"] == 0


def test_writer_waiting_too_long_gets_one_clear_error(tmp_path):
    """Another writer holding the lock past ``busy_timeout`` is a LockedProfileError, not a driver traceback."""
    import sqlite3

    from provstore.exceptions import LockedProfileError

    profile = make_profile("core.sqlite_dos", tmp_path, busy_timeout=0.2)
    resolve_storage_class(profile).initialise(profile)
    blocker = sqlite3.connect(resolve_storage_class(profile).dialect.database_path(profile), isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with resolve_storage_class(profile)(profile) as storage:
            assert storage.get_info()["entities"]["nodes"] == 0  # readers are not blocked in WAL mode
            with pytest.raises(LockedProfileError, match="busy timeout"):
                storage.set_global_variable("x", 1)
            blocker.execute("ROLLBACK")
            storage.set_global_variable("x", 1)  # usable again once the other writer is done
            assert storage.get_global_variable("x") == 1
    finally:
        blocker.close()
