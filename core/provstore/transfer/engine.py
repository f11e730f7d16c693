"""``transfer_storage``: copy a whole store (rows, settings, repository objects) into another, of any backend.

Order of work: repository objects first (so no row ever refers to an object the target lacks), then
rows kind by kind, then the settings that belong to the data. Every batch is committed on its own
(unless ``atomic``), and a run leaves a marker setting in the target naming its source, so running the
same transfer again after an interruption resumes: rows and objects already copied are recognised
and skipped. A target holding data of another origin is refused unless ``merge`` is given.
"""

from __future__ import annotations

import contextlib
import datetime
import time
from collections.abc import Iterator
from typing import Any

from provstore.exceptions import CorruptStorage, IntegrityError, NotExistent, ValidationError
from provstore.storage.abstract import StorageBackend
from provstore.text import plural
from provstore.transfer.objects import ObjectCopier
from provstore.transfer.progress import progress_bar
from provstore.transfer.report import EntityReport, TransferReport
from provstore.transfer.rows import RowCopier

__all__ = ["MARKER_KEY", "transfer_storage"]

MARKER_KEY = "transfer|source"
"""Global variable of the target naming the source of the transfer that wrote it, and whether it completed."""

KINDS = ("user", "computer", "authinfo", "group", "node", "link", "group_node", "comment", "log")


def transfer_storage(
    source: StorageBackend,
    target: StorageBackend,
    *,
    batch_size: int = 1000,
    progress: bool = False,
    merge: bool = False,
    verify: bool = True,
    atomic: bool = False,
) -> TransferReport:
    """Copy everything ``source`` holds into ``target`` and return what was done.

    Primary keys are remapped (rows are matched by uuid, users by email); when the repositories key
    objects differently the keys are recomputed and the nodes' ``repository_metadata`` rewritten.

    An ``atomic`` run into a fresh target (holding no data but users when the run starts, as a new archive
    or a new profile does) is the transfer's to fill and has nothing to resume: each kind it lacks goes in
    with one ``bulk_insert(..., exclusive_load=True)``, so a large kind may be loaded with its indexes
    dropped and rebuilt, and on PostgreSQL other sessions using those tables wait until the run commits.
    Other runs write batch by batch on the default path.

    :param batch_size: rows (and objects) read and written per step; bounds the memory of each step.
    :param progress: show progress bars on stderr.
    :param merge: allow a target that already holds data of another origin (rows with the same
        identity are kept as they are, the rest is added).
    :param verify: at the end, compare the counts and the sha256 of every object in the target.
    :param atomic: write all rows in one transaction (nothing is left half-written on failure; no resume).
    :raises IntegrityError: the target holds other data and ``merge`` is False, or a row conflicts with
        the target's (for example a computer label used by another computer).
    :raises CorruptStorage: the source is inconsistent or the verification failed.
    """
    started = time.monotonic()
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValidationError(f"batch_size must be a positive integer, got {batch_size!r}")
    source_id = _identity(source)
    if source is target or (source_id == _identity(target) and source.get_repository().uuid is not None):
        raise ValidationError("the source and the target are the same storage")
    before = {kind: RowCopier.count(target, kind) for kind in KINDS}
    report = TransferReport(source.profile.name, target.profile.name, _mode(target, before, source_id, merge))
    if not atomic:
        _set_marker(target, source_id, "running")

    def bar(label: str, total: int) -> contextlib.AbstractContextManager[Any]:
        return progress_bar(label, total, progress)

    objects = ObjectCopier(source.get_repository(), target.get_repository(), batch_size, report)
    with bar("objects", objects.count() if progress else 0) as advance:  # counting lists the objects once more
        objects.copy(advance)
    if verify:
        with bar("verifying objects", report.objects.source) as advance:
            objects.verify(advance)
    unmatched = {kind for kind, count in before.items() if not count}
    # an atomic run into a fresh target is the transfer's to fill: its kinds may load in load mode
    exclusive = frozenset(unmatched) if atomic and report.mode == "fresh" else frozenset()
    rows = RowCopier(source, target, objects, batch_size, bar, unmatched, exclusive)
    with target.transaction() if atomic else contextlib.nullcontext():
        rows.copy_all()
        if verify:
            _verify_counts(target, rows.reports, before)
        settings = _copy_settings(source, target)
    report.entities = {f"{kind}s": rows.reports[kind] for kind in KINDS}
    report.entities["settings"] = settings
    if not atomic:
        _set_marker(target, source_id, "complete")
    report.verified = verify
    report.seconds = time.monotonic() - started
    return report


def _identity(storage: StorageBackend) -> str:
    """Return what identifies a store across runs: its repository's uuid, else its profile name."""
    uuid = storage.get_repository().uuid
    return str(uuid) if uuid is not None else f"profile:{storage.profile.name}"


def _mode(target: StorageBackend, before: dict[str, int], source_id: str, merge: bool) -> str:
    """Return ``fresh``, ``resumed`` or ``merged``; refuse a target holding data of another origin."""
    try:
        marker = target.get_global_variable(MARKER_KEY)
    except NotExistent:
        marker = None
    if isinstance(marker, dict) and marker.get("source") == source_id:
        return "resumed"
    held = {kind: count for kind, count in before.items() if count and kind != "user"}
    if not held:
        return "fresh"
    if merge:
        return "merged"
    summary = ", ".join(plural(count, kind.replace("_", " ")) for kind, count in held.items())
    raise IntegrityError(
        f"profile {target.profile.name!r} already holds data of another origin ({summary}); "
        "use --merge to add to it (rows with the same uuid are kept, not duplicated)"
    )


def _set_marker(target: StorageBackend, source_id: str, status: str) -> None:
    now = datetime.datetime.now(datetime.timezone.utc).isoformat()
    value = {"source": source_id, "status": status, "time": now}
    target.set_global_variable(MARKER_KEY, value, description="origin of the data copied by `storage transfer`")


def _verify_counts(target: StorageBackend, reports: dict[str, EntityReport], before: dict[str, int]) -> None:
    """Check that every source row is in the target and the target grew by exactly the rows copied.

    :raises CorruptStorage: naming the first kind whose counts do not add up.
    """
    for kind, counts in reports.items():
        after = RowCopier.count(target, kind)
        if counts.copied + counts.existing != counts.source or after != before[kind] + counts.copied:
            raise CorruptStorage(
                f"verification failed for {kind}s: the source holds {counts.source}, the target held "
                f"{before[kind]}, {counts.copied} were copied, but the target now holds {after}"
            )


def _source_settings(storage: StorageBackend) -> Iterator[tuple[str, Any, str]]:
    """Yield ``(key, value, description)`` of the settings that belong to the data (not earlier transfers' markers)."""
    for key, value, description in storage.iter_global_variables():
        if not key.startswith("transfer|"):
            yield key, value, description


def _copy_settings(source: StorageBackend, target: StorageBackend) -> EntityReport:
    """Copy the data's settings the target does not have yet (the target's own values win)."""
    report = EntityReport()
    for key, value, description in _source_settings(source):
        report.source += 1
        try:
            target.get_global_variable(key)
        except NotExistent:
            target.set_global_variable(key, value, description=description, overwrite=False)
            report.copied += 1
        else:
            report.existing += 1
    return report
