"""Garbage-collector settings for provstore's allocation-heavy phases: importing a backend, bulk operations.

CPython's cyclic collector runs a young collection after every 700 new container objects and, every so
often, a full one that scans every object of the process. Two phases of provstore make it work for
nothing: importing a backend (SQLAlchemy and pydantic create hundreds of thousands of long-lived objects)
and bulk operations, which hold a chunk of row dicts at a time, so the rows survive young collections,
are promoted, and trigger full scans of the whole process (8 s of a 31 s million-node ``bulk_insert`` on
``core.sqlite_dos``). Both settings are process-wide, so they are counted: concurrent blocks in several
threads share them, and the last one to leave restores what was there before the first. A child forked
while a block runs (in another thread) starts with the settings from before the block, since no block
runs in it to restore them.
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
from collections.abc import Iterator

__all__ = ["BULK_YOUNG_THRESHOLD", "collection_paused", "spaced_collections"]

BULK_YOUNG_THRESHOLD = 100_000
"""New container objects between young collections during bulk operations (CPython's default: 700).

A 10,000-row chunk of node rows is about 50,000 containers: it is freed by reference counting before a
collection sees it. Cycles that the caller's own row generator makes are still collected, within this many
objects."""

_lock = threading.Lock()
_paused = 0
_paused_enabled = False
_spaced = 0
_spaced_previous: tuple[int, ...] = ()


@contextlib.contextmanager
def collection_paused() -> Iterator[None]:
    """Pause the collector in a block that makes no garbage cycles (importing modules), then restore it."""
    global _paused, _paused_enabled
    with _lock:
        if _paused == 0:
            _paused_enabled = gc.isenabled()
            gc.disable()
        _paused += 1
    try:
        yield
    finally:
        with _lock:
            _paused -= 1
            if _paused == 0 and _paused_enabled:
                gc.enable()


@contextlib.contextmanager
def spaced_collections() -> Iterator[None]:
    """Run young collections every :data:`BULK_YOUNG_THRESHOLD` new objects in the block, then restore them.

    The collector keeps running (unlike :func:`collection_paused`): a block that runs the caller's code,
    such as a row generator, frees its garbage cycles with bounded delay. A higher threshold set by the
    caller is kept.
    """
    global _spaced, _spaced_previous
    with _lock:
        if _spaced == 0:
            _spaced_previous = gc.get_threshold()
            if _spaced_previous[0] < BULK_YOUNG_THRESHOLD:
                gc.set_threshold(BULK_YOUNG_THRESHOLD, *_spaced_previous[1:])
        _spaced += 1
    try:
        yield
    finally:
        with _lock:
            _spaced -= 1
            if _spaced == 0:
                gc.set_threshold(*_spaced_previous)


def _restore_in_child() -> None:
    """Give a forked child the settings from before the blocks of its parent, which do not run in it."""
    global _lock, _paused, _spaced
    _lock = threading.Lock()  # another thread of the parent may have held it at the fork
    if _paused:
        _paused = 0
        if _paused_enabled:
            gc.enable()
    if _spaced:
        _spaced = 0
        gc.set_threshold(*_spaced_previous)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_restore_in_child)
