"""Concurrency, where the backend declares it: other processes and other threads see committed writes, rules hold."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

from provstore.exceptions import ValidationError
from provstore.storage import StorageBackend
from provstore.testing.capabilities import requires
from provstore.testing.storage.base import CALC, DATA, StorageTests, writes

__all__ = ["ConcurrencyTests"]

_CHILD_WRITER = """
import json, sys
import provstore
from provstore.config import Profile
with provstore.open_storage(Profile("conformance", json.load(sys.stdin))) as storage:
    storage.set_global_variable("written-by-child", {"pid": 1})
    print(storage.get_global_variable("written-by-parent"))
"""


@writes
class ConcurrencyTests(StorageTests):
    """Several processes or threads using one profile, for backends that declare they support it.

    Checks (``supports_concurrent_processes``): a child process opening the same profile sees the parent's
    committed write and the parent sees the child's. (``supports_concurrent_threads``): threads of one open
    storage each run their own transactions, see each other's commits, and a link rule still holds when two
    threads race to break it (exactly one of two ``create`` links to one node succeeds).
    """

    @requires("persistent", "supports_concurrent_processes")
    def test_write_from_another_process_is_visible(self, provstore_storage: StorageBackend) -> None:
        provstore_storage.set_global_variable("written-by-parent", True)
        child = subprocess.run(
            [sys.executable, "-c", _CHILD_WRITER],
            input=json.dumps(provstore_storage.profile.dictionary),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert child.returncode == 0, child.stderr
        assert child.stdout.strip() == "True"
        assert provstore_storage.get_global_variable("written-by-child") == {"pid": 1}

    @requires("supports_concurrent_threads")
    def test_threads_see_each_others_commits(self, provstore_storage: StorageBackend) -> None:
        provstore_storage.nodes.create(node_type=DATA, label="main").store()  # the default user exists
        errors: list[BaseException] = []

        def write(index: int) -> None:
            try:
                with provstore_storage.transaction():
                    provstore_storage.set_global_variable(f"thread-{index}", index)
                    provstore_storage.nodes.create(node_type=DATA, label=f"t{index}").store()
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(index,)) for index in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not errors, errors
        assert [provstore_storage.get_global_variable(f"thread-{index}") for index in range(4)] == [0, 1, 2, 3]
        assert provstore_storage.nodes.count() == 5

    @requires("supports_concurrent_threads")
    def test_concurrent_creators_cannot_both_win(self, provstore_storage: StorageBackend) -> None:
        make = provstore_storage.nodes.create
        data_pk = make(node_type=DATA).store().pk
        calc_pks = [make(node_type=CALC).store().pk, make(node_type=CALC).store().pk]
        barrier = threading.Barrier(2)
        outcomes: list[str] = []

        def create_link(calc_pk: int) -> None:
            data, calc = provstore_storage.nodes.get(data_pk), provstore_storage.nodes.get(calc_pk)
            barrier.wait()
            try:
                data.add_incoming(calc, "create", "result")
                outcomes.append("linked")
            except ValidationError:
                outcomes.append("refused")

        threads = [threading.Thread(target=create_link, args=(pk,)) for pk in calc_pks]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(outcomes) == ["linked", "refused"]
        assert len(provstore_storage.nodes.get(data_pk).get_incoming()) == 1
