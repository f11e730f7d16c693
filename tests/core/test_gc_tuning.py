"""Garbage-collector tuning: off unless the caller opts in; once opted in applied in the block, shared, restored."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import textwrap
import threading

import pytest
from provstore import gc_tuning
from provstore.gc_tuning import BULK_YOUNG_THRESHOLD, TUNING_ENV, spaced_collections


@pytest.fixture(autouse=True)
def _restore_collector(monkeypatch):
    monkeypatch.delenv(TUNING_ENV, raising=False)
    threshold, enabled = gc.get_threshold(), gc.isenabled()
    yield
    gc_tuning.disable_bulk_tuning()
    gc.set_threshold(*threshold)
    (gc.enable if enabled else gc.disable)()


@pytest.fixture
def opted_in():
    gc_tuning.enable_bulk_tuning()


def test_off_by_default_the_block_leaves_the_collector_alone():
    gc.set_threshold(700, 10, 10)
    assert not gc_tuning.bulk_tuning_enabled()
    with spaced_collections():
        assert gc.get_threshold() == (700, 10, 10)
    assert gc.get_threshold() == (700, 10, 10)


@pytest.mark.parametrize(("value", "enabled"), [("1", True), ("0", False), ("", False)])
def test_the_environment_variable_opts_in(monkeypatch, value, enabled):
    monkeypatch.setenv(TUNING_ENV, value)
    gc.set_threshold(700, 10, 10)
    with spaced_collections():
        assert (gc.get_threshold()[0] == BULK_YOUNG_THRESHOLD) is enabled
    assert gc.get_threshold() == (700, 10, 10)


def test_enable_and_disable():
    gc_tuning.enable_bulk_tuning()
    assert gc_tuning.bulk_tuning_enabled()
    gc_tuning.disable_bulk_tuning()
    assert not gc_tuning.bulk_tuning_enabled()


@pytest.mark.usefixtures("opted_in")
def test_spaced_collections_raise_the_young_threshold_and_restore_it_even_on_error():
    gc.set_threshold(700, 10, 10)
    with pytest.raises(RuntimeError), spaced_collections():
        assert gc.get_threshold() == (BULK_YOUNG_THRESHOLD, 10, 10)
        assert gc.isenabled()  # still collecting: only less often
        raise RuntimeError
    assert gc.get_threshold() == (700, 10, 10)


@pytest.mark.usefixtures("opted_in")
def test_a_higher_threshold_of_the_caller_is_kept():
    gc.set_threshold(10 * BULK_YOUNG_THRESHOLD, 5, 5)
    with spaced_collections():
        assert gc.get_threshold() == (10 * BULK_YOUNG_THRESHOLD, 5, 5)
    assert gc.get_threshold() == (10 * BULK_YOUNG_THRESHOLD, 5, 5)


@pytest.mark.usefixtures("opted_in")
def test_overlapping_blocks_in_threads_restore_only_when_the_last_ends():
    gc.set_threshold(700, 10, 10)
    inside, release = threading.Event(), threading.Event()

    def other() -> None:
        with spaced_collections():
            inside.set()
            release.wait(10)

    thread = threading.Thread(target=other)
    with spaced_collections():
        thread.start()
        assert inside.wait(10)
    assert gc.get_threshold()[0] == BULK_YOUNG_THRESHOLD  # the other thread's block still runs
    release.set()
    thread.join(10)
    assert gc.get_threshold() == (700, 10, 10)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.usefixtures("opted_in")
def test_a_child_forked_inside_the_block_starts_with_the_settings_from_before():
    gc.enable()
    gc.set_threshold(700, 10, 10)
    read, write = os.pipe()
    with spaced_collections():
        pid = os.fork()
        if pid == 0:  # the child: report its settings, then leave without running the parent's cleanup
            os.write(write, f"{gc.isenabled()} {gc.get_threshold()}".encode())
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        reported = pipe.read()
    os.waitpid(pid, 0)
    assert reported == "True (700, 10, 10)"


_PROCESS = """
import gc, json, sys, tempfile
gc.set_threshold(701, 11, 12)
seen = []

def record(step):
    seen.append([step, gc.isenabled(), list(gc.get_threshold())])

import provstore
record("import provstore")
from provstore.config import Profile
from provstore.plugins import get_plugin_manager
from provstore.storage import EntityTypes
if sys.argv[1] == "opt-in":
    from provstore.gc_tuning import enable_bulk_tuning
    enable_bulk_tuning()
folder = tempfile.mkdtemp()
profile = Profile("gc", {"storage": {"backend": "core.sqlite_dos", "config": {"filepath": folder}}})
storage_cls = get_plugin_manager().get_storage_backend("core.sqlite_dos")
record("import backend")
storage_cls.initialise(profile)
with storage_cls(profile) as storage:
    record("open storage")
    [user] = storage.bulk_insert(EntityTypes.USER, [{"email": "gc@example.org"}], allow_defaults=True)

    def rows():
        for index in range(3000):
            if index == 1500:
                record("inside bulk_insert")
            yield {"node_type": "data.core.Int.", "user_id": user, "attributes": {"value": index}}

    storage.bulk_insert(EntityTypes.NODE, rows(), allow_defaults=True)
    record("after bulk_insert")
print(json.dumps(seen))
"""


def _collector_seen(mode: str) -> dict[str, list]:
    env = {key: value for key, value in os.environ.items() if key != TUNING_ENV}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_PROCESS), mode],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    return {step: state for step, *state in json.loads(result.stdout.splitlines()[-1])}


def test_importing_opening_and_bulk_inserting_leave_the_collector_untouched():
    seen = _collector_seen("default")
    steps = ["import provstore", "import backend", "open storage", "inside bulk_insert", "after bulk_insert"]
    assert seen == {step: [True, [701, 11, 12]] for step in steps}


def test_an_opted_in_process_spaces_collections_only_inside_bulk_insert():
    seen = _collector_seen("opt-in")
    assert seen["inside bulk_insert"] == [True, [BULK_YOUNG_THRESHOLD, 11, 12]]
    assert seen["open storage"] == seen["after bulk_insert"] == [True, [701, 11, 12]]


def test_the_command_line_opts_in_for_its_own_process(monkeypatch):
    from provstore.cli import root

    monkeypatch.setattr(root.cli, "main", lambda **kwargs: None)
    monkeypatch.setattr(root.signal, "getsignal", lambda number: None)  # keep pytest's own SIGINT handler
    root.main()
    assert gc_tuning.bulk_tuning_enabled()
