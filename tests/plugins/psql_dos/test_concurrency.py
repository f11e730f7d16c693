"""Several processes share one profile: nothing is lost, and full maintenance waits for exclusive use."""

from __future__ import annotations

import json
import signal
import uuid

import pytest
from provstore.exceptions import LockedProfileError
from provstore.plugins import resolve_storage_class
from provstore.storage import EntityTypes
from provstore_psql_dos.locking import AdvisoryProfileLock
from psql_helpers import WORKER_PRELUDE, maintain_once_released, start_worker

pytestmark = pytest.mark.postgres

WRITER = (
    WORKER_PRELUDE
    + """
import uuid
worker, transactions, per_transaction = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
storage = resolve_storage_class(profile)(profile)
user = storage.bulk_insert(EntityTypes.USER, [{"email": f"writer{worker}@example.org"}], allow_defaults=True)[0]
pks = []
for t in range(transactions):
    with storage.transaction():
        rows = [{"uuid": str(uuid.uuid4()), "node_type": "data.", "user_id": user, "label": f"{worker}-{t}-{i}"}
                for i in range(per_transaction)]
        new = storage.bulk_insert(EntityTypes.NODE, rows, allow_defaults=True)
        links = [{"input_id": a, "output_id": b, "label": "l", "type": "create"} for a, b in zip(new, new[1:])]
        storage.bulk_insert(EntityTypes.LINK, links)
        storage.set_global_variable(f"writer-{worker}", t)
        pks.extend(new)
storage.close()
print(json.dumps(pks))
"""
)

HOLDER = (
    WORKER_PRELUDE
    + """
storage = resolve_storage_class(profile)(profile)
print("open", flush=True)
sys.stdin.readline()
storage.close()
"""
)


def _finish(process) -> str:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    return out


@pytest.mark.slow
def test_concurrent_writers_lose_nothing(psql_profile, psql_storage):
    workers, transactions, per_transaction = 4, 8, 40
    processes = [
        start_worker(psql_profile, WRITER, str(n), str(transactions), str(per_transaction)) for n in range(workers)
    ]
    written = [json.loads(_finish(process)) for process in processes]
    all_pks = [pk for pks in written for pk in pks]
    assert len(all_pks) == len(set(all_pks)) == workers * transactions * per_transaction
    info = psql_storage.get_info()["entities"]
    assert info["nodes"] == len(all_pks)
    assert info["links"] == workers * transactions * (per_transaction - 1)
    for n in range(workers):
        assert psql_storage.get_global_variable(f"writer-{n}") == transactions - 1


def test_full_maintenance_refuses_while_another_process_uses_the_profile(psql_profile, psql_storage):
    holder = start_worker(psql_profile, HOLDER)
    assert holder.stdout.readline().strip() == "open"
    with pytest.raises(LockedProfileError, match="in use by another process"):
        psql_storage.maintain(full=True)
    with pytest.raises(LockedProfileError):
        resolve_storage_class(psql_profile).migrate(psql_profile)
    holder.stdin.write("done\n")
    holder.stdin.flush()
    _finish(holder)
    result = psql_storage.maintain(full=True)
    assert result["database"] == {"statement": "VACUUM (ANALYZE)", "done": True}


def test_opening_is_refused_during_exclusive_use(psql_profile, psql_storage):
    lock = AdvisoryProfileLock("other", resolve_storage_class(psql_profile).validated_config(psql_profile))
    psql_storage.close()
    try:
        with lock.exclusive():
            with pytest.raises(LockedProfileError, match="maintained or migrated"):
                resolve_storage_class(psql_profile)(psql_profile)
    finally:
        lock.release()
    resolve_storage_class(psql_profile)(psql_profile).close()  # released: opening works again


def test_a_killed_process_releases_its_lock(psql_profile, psql_storage):
    holder = start_worker(psql_profile, HOLDER)
    assert holder.stdout.readline().strip() == "open"
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    maintain_once_released(psql_storage, seconds=20)  # the server notices the dead session's closed socket


@pytest.mark.slow
def test_live_maintenance_while_others_write(psql_profile, psql_storage):
    processes = [start_worker(psql_profile, WRITER, str(n), "15", "30") for n in range(2)]
    rounds = 0
    while any(process.poll() is None for process in processes) or rounds == 0:
        result = psql_storage.maintain(full=False)
        assert result["database"]["done"] is True
        rounds += 1
    written = [json.loads(_finish(process)) for process in processes]
    assert psql_storage.get_info()["entities"]["nodes"] == sum(len(pks) for pks in written) == 2 * 15 * 30


def test_threads_get_their_own_sessions_and_lose_nothing(psql_storage):
    import threading

    user = psql_storage.bulk_insert(EntityTypes.USER, [{"email": "threads@example.org"}], allow_defaults=True)[0]
    barrier = threading.Barrier(8)
    results: dict[int, tuple[int, list[int]]] = {}

    def work(thread: int) -> None:
        session = psql_storage.get_session()
        barrier.wait()  # all threads hold their session at once
        pks = []
        for batch in range(5):
            rows = [{"uuid": str(uuid.uuid4()), "node_type": "data.", "user_id": user, "label": f"{thread}-{batch}"}]
            with psql_storage.transaction():
                pks += psql_storage.bulk_insert(EntityTypes.NODE, rows, allow_defaults=True)
        results[thread] = (id(session), pks)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len({session_id for session_id, _ in results.values()}) == 8
    pks = [pk for _, thread_pks in results.values() for pk in thread_pks]
    assert len(set(pks)) == 40 == psql_storage.get_info()["entities"]["nodes"]
