"""Opt-in garbage-collector setting for bulk operations: off in the library unless the caller asks for it.

CPython's cyclic collector runs a young collection after every 700 new container objects and, every so
often, a full one that scans every object of the process. Bulk operations hold a chunk of row dicts at a
time, so the rows survive young collections, are promoted, and trigger full scans of the whole process
(8 s of a 31 s million-node ``bulk_insert`` on ``core.sqlite_dos``). Spacing the young collections out
avoids that, but the collector's settings belong to the whole process, every thread of the host
application included, so provstore changes them only when the caller opts in:

- :func:`enable_bulk_tuning` in the program (and :func:`disable_bulk_tuning` to stop), or
- the environment variable ``PROVSTORE_GC_TUNING=1`` (read at each bulk call).

The ``provstore`` command line opts in for its own process. Once opted in, ``bulk_insert`` and
``bulk_update`` run inside :func:`spaced_collections`: counted across threads (the last block to end
restores what was there before the first), and a child forked while a block runs starts with the settings
from before it.
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
from collections.abc import Iterator

__all__ = [
    "BULK_YOUNG_THRESHOLD",
    "TUNING_ENV",
    "bulk_tuning_enabled",
    "disable_bulk_tuning",
    "enable_bulk_tuning",
    "spaced_collections",
]

BULK_YOUNG_THRESHOLD = 100_000
"""New container objects between young collections during bulk operations (CPython's default: 700).

A 10,000-row chunk of node rows is about 50,000 containers: it is freed by reference counting before a
collection sees it. Cycles that the caller's own row generator makes are still collected, within this many
objects."""

TUNING_ENV = "PROVSTORE_GC_TUNING"
"""Set to 1 to opt in without code (as :func:`enable_bulk_tuning`); empty or 0 leaves the collector alone."""

_enabled = False
_lock = threading.Lock()
_spaced = 0
_spaced_previous: tuple[int, ...] = ()


def enable_bulk_tuning() -> None:
    """Opt in: from now on bulk operations of this process space out young collections while they run."""
    global _enabled
    _enabled = True


def disable_bulk_tuning() -> None:
    """Opt out again (blocks already running keep their setting until they end); the environment still counts."""
    global _enabled
    _enabled = False


def bulk_tuning_enabled() -> bool:
    """Return whether bulk operations tune the collector (:func:`enable_bulk_tuning`, or ``PROVSTORE_GC_TUNING=1``)."""
    return _enabled or os.environ.get(TUNING_ENV, "").strip() not in ("", "0")


@contextlib.contextmanager
def spaced_collections() -> Iterator[None]:
    """If opted in, run young collections every :data:`BULK_YOUNG_THRESHOLD` new objects in the block, then restore.

    Not opted in, the block runs with the collector untouched. The collector keeps running either way: a
    block that runs the caller's code, such as a row generator, frees its garbage cycles with bounded
    delay. A higher threshold set by the caller is kept.
    """
    if not bulk_tuning_enabled():
        yield
        return
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
    global _lock, _spaced
    _lock = threading.Lock()  # another thread of the parent may have held it at the fork
    if _spaced:
        _spaced = 0
        gc.set_threshold(*_spaced_previous)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_restore_in_child)
