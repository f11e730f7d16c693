"""Garbage-collector settings of the allocation-heavy phases: applied in the block, shared, always restored."""

from __future__ import annotations

import gc
import os
import threading

import pytest
from provstore.gc_tuning import BULK_YOUNG_THRESHOLD, collection_paused, spaced_collections


@pytest.fixture(autouse=True)
def _restore_collector():
    threshold, enabled = gc.get_threshold(), gc.isenabled()
    yield
    gc.set_threshold(*threshold)
    (gc.enable if enabled else gc.disable)()


def test_spaced_collections_raise_the_young_threshold_and_restore_it_even_on_error():
    gc.set_threshold(700, 10, 10)
    with pytest.raises(RuntimeError), spaced_collections():
        assert gc.get_threshold() == (BULK_YOUNG_THRESHOLD, 10, 10)
        assert gc.isenabled()  # still collecting: only less often
        raise RuntimeError
    assert gc.get_threshold() == (700, 10, 10)


def test_a_higher_threshold_of_the_caller_is_kept():
    gc.set_threshold(10 * BULK_YOUNG_THRESHOLD, 5, 5)
    with spaced_collections():
        assert gc.get_threshold() == (10 * BULK_YOUNG_THRESHOLD, 5, 5)
    assert gc.get_threshold() == (10 * BULK_YOUNG_THRESHOLD, 5, 5)


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


@pytest.mark.parametrize("enabled", [True, False])
def test_collection_paused_restores_the_previous_state(enabled):
    (gc.enable if enabled else gc.disable)()
    with collection_paused():
        assert not gc.isenabled()
        with collection_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer block still runs
    assert gc.isenabled() is enabled


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_child_forked_inside_the_blocks_starts_with_the_settings_from_before():
    gc.enable()
    gc.set_threshold(700, 10, 10)
    read, write = os.pipe()
    with collection_paused(), spaced_collections():
        pid = os.fork()
        if pid == 0:  # the child: report its settings, then leave without running the parent's cleanup
            os.write(write, f"{gc.isenabled()} {gc.get_threshold()}".encode())
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        reported = pipe.read()
    os.waitpid(pid, 0)
    assert reported == "True (700, 10, 10)"
