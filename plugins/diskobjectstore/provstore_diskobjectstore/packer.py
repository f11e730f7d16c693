"""Maintenance of a container of a pinned format: pack loose objects, delete packed loose copies, find waste.

The same on-disk result as disk-objectstore's ``pack_all_loose``/``clean_storage`` (objects appended to the
pack being filled, each pack fsynced before its index rows are committed, loose copies deleted only after
that), without its per-object costs: ``pathlib`` objects and repeated ``stat`` calls for every loose file,
and SQLAlchemy for the index. Callers hold the plugin's pack-writer lock; the ``packs/<id>.lock`` file that
disk-objectstore's own writers respect is taken as well.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO, NamedTuple

from provstore.exceptions import CorruptStorage, UnreachableStorage
from provstore.repository.abstract import CHUNK_SIZE

from provstore_diskobjectstore.layout import Layout, connect_index
from provstore_diskobjectstore.progress import Progress

__all__ = [
    "ObjectCount",
    "TotalSize",
    "clean_loose_copies",
    "count_objects",
    "loose_to_pack",
    "pack_loose",
    "total_size",
    "vacuum",
    "wasted_bytes",
]

_INSERT = "INSERT INTO db_object (hashkey, compressed, size, offset, length, pack_id) VALUES (?, ?, ?, ?, ?, ?)"
_CHUNK_KEYS = 500
_DELETERS = 16
"""Threads deleting loose files: a file system mounted with ``discard`` trims each deleted file's blocks
synchronously (about 2 ms per file on this project's machines), and deletions in parallel overlap that wait."""


def _packed_among(index: sqlite3.Connection, keys: list[str]) -> set[str]:
    """Return those of ``keys`` that the pack index holds."""
    found: set[str] = set()
    for start in range(0, len(keys), _CHUNK_KEYS):
        chunk = keys[start : start + _CHUNK_KEYS]
        statement = f"SELECT hashkey FROM db_object WHERE hashkey IN ({', '.join('?' * len(chunk))})"
        found.update(row[0] for row in index.execute(statement, chunk).fetchall())
    return found


def list_objects(layout: Layout) -> Iterator[str]:
    """Yield the keys of every object: the packed ones, then the loose ones not packed (as disk-objectstore does)."""
    index = connect_index(layout.index_path)
    try:
        for (key,) in index.execute("SELECT hashkey FROM db_object ORDER BY id"):
            yield key
        loose = layout.loose_keys()
        packed = _packed_among(index, loose)
    finally:
        index.close()
    yield from (key for key in loose if key not in packed)


def loose_to_pack(layout: Layout) -> tuple[list[str], int]:
    """Return the loose objects not packed yet (sorted keys) and how many loose objects are already packed."""
    loose = layout.loose_keys()
    index = connect_index(layout.index_path)
    try:
        packed = _packed_among(index, loose)
    finally:
        index.close()
    return [key for key in loose if key not in packed], len(packed)


def _fsync_folder(folder: str) -> None:
    """Persist the entries of ``folder``."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _pack_to_write(layout: Layout, start: int) -> int:
    """Return the first pack id from ``start`` whose file does not exist or is below the target size."""
    pack_id = start
    while True:
        try:
            if os.stat(layout.pack_path(pack_id)).st_size < layout.pack_size_target:
                return pack_id
        except FileNotFoundError:
            return pack_id
        pack_id += 1


class _PackWriter:
    """Appends objects to one pack file under its disk-objectstore lock file; :meth:`finish` makes them count."""

    def __init__(self, layout: Layout, pack_id: int) -> None:
        self.pack_id = pack_id
        self._lock_path = f"{layout.packs_folder}{pack_id}.lock"
        try:
            open(self._lock_path, "x").close()
        except FileExistsError:
            raise UnreachableStorage(
                f"pack {pack_id} of {layout.folder} is locked by another writer ({self._lock_path} exists)"
            ) from None
        try:
            self._handle = open(layout.pack_path(pack_id), "ab", buffering=CHUNK_SIZE)
        except BaseException:
            os.unlink(self._lock_path)
            raise
        self.offset = self._handle.tell()
        self._new_file = self.offset == 0
        self._packs_folder = layout.packs_folder
        self.rows: list[tuple[str, int, int, int, int, int]] = []

    def append(self, key: str, source: BinaryIO, compressor: Any) -> int:
        """Copy ``source`` into the pack (through ``compressor`` if given), check it hashes to ``key``; return its size.

        :raises CorruptStorage: if the content does not hash to its key.
        """
        digest, size, write = hashlib.sha256(), 0, self._handle.write
        while chunk := source.read(CHUNK_SIZE):
            digest.update(chunk)
            size += len(chunk)
            write(compressor.compress(chunk) if compressor else chunk)
        if compressor:
            write(compressor.flush())
        if digest.hexdigest() != key:
            raise CorruptStorage(f"the loose object {key} does not hash to its key: the container is damaged")
        end = self._handle.tell()
        self.rows.append((key, int(compressor is not None), size, self.offset, end - self.offset, self.pack_id))
        self.offset = end
        return size

    def finish(self, index: sqlite3.Connection) -> None:
        """Flush and fsync the pack, then commit its new index rows (the order that makes a crash harmless)."""
        try:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
            if self._new_file:
                _fsync_folder(self._packs_folder)
            if self.rows:
                index.execute("BEGIN IMMEDIATE")
                try:
                    index.executemany(_INSERT, self.rows)
                except BaseException:
                    index.execute("ROLLBACK")
                    raise
                index.execute("COMMIT")
        finally:
            self.abort()

    def abort(self) -> None:
        """Close the pack and release its lock; bytes appended but not committed stay unreferenced."""
        self._handle.close()
        if os.path.exists(self._lock_path):
            os.unlink(self._lock_path)


def _compression_decider(compress: bool) -> Callable[[BinaryIO, int], bool]:
    """Return a function telling whether an object is worth compressing (disk-objectstore's AUTO heuristic)."""
    if not compress:
        return lambda source, size: False
    from disk_objectstore import CompressMode
    from disk_objectstore.utils import should_compress

    return lambda source, size: should_compress(source, CompressMode.AUTO, False, size, size)


def pack_loose(layout: Layout, keys: list[str], *, compress: bool, progress: bool | None) -> tuple[int, int]:
    """Append the loose objects ``keys`` (none of them packed yet) to packs; return (objects, bytes) packed.

    Loose files that disappeared meanwhile (deleted) are skipped; loose copies are kept (see
    :func:`clean_loose_copies`).
    """
    worth_compressing = _compression_decider(compress)
    index = connect_index(layout.index_path, write=True)
    writer: _PackWriter | None = None
    objects = total = 0
    try:
        with Progress("packing loose objects", len(keys), enabled=progress) as bar:
            for key in keys:
                if writer is None:
                    writer = _PackWriter(layout, _pack_to_write(layout, 0))
                try:
                    source = open(layout.loose_path(key), "rb", buffering=0)
                except (FileNotFoundError, PermissionError):
                    bar.advance()
                    continue
                with source:
                    size = os.fstat(source.fileno()).st_size
                    compressor = zlib.compressobj(layout.zlib_level) if worth_compressing(source, size) else None
                    total += writer.append(key, source, compressor)
                objects += 1
                bar.advance()
                if writer.offset >= layout.pack_size_target:
                    writer, finished = None, writer
                    finished.finish(index)
            if writer is not None:
                writer, finished = None, writer
                finished.finish(index)
    finally:
        if writer is not None:
            writer.abort()
        index.close()
    return objects, total


def clean_loose_copies(layout: Layout, *, progress: bool | None) -> int:
    """Delete the loose objects that are also packed; return how many (run only while nobody uses the container)."""
    loose = layout.loose_keys()
    index = connect_index(layout.index_path)
    try:
        packed = sorted(_packed_among(index, loose))
    finally:
        index.close()
    with (
        Progress("deleting packed loose copies", len(packed), enabled=progress) as bar,
        ThreadPoolExecutor(_DELETERS) as pool,
    ):
        for _ in pool.map(_unlink, map(layout.loose_path, packed)):
            bar.advance()
    return len(packed)


def _unlink(path: str) -> None:
    """Delete the file at ``path`` if it is still there."""
    with contextlib.suppress(FileNotFoundError, PermissionError):
        os.unlink(path)


def wasted_bytes(layout: Layout) -> dict[int, int]:
    """Return ``{pack_id: bytes no indexed object uses}`` for every pack file that has such bytes."""
    index = connect_index(layout.index_path)
    try:
        used = dict(index.execute("SELECT pack_id, SUM(length) FROM db_object GROUP BY pack_id").fetchall())
    finally:
        index.close()
    waste = {}
    for pack_id in layout.pack_ids():
        unused = os.stat(layout.pack_path(pack_id)).st_size - used.get(pack_id, 0)
        if unused > 0:
            waste[pack_id] = unused
    return waste


def vacuum(layout: Layout) -> None:
    """Rebuild the pack index compactly (SQLite ``VACUUM``)."""
    index = connect_index(layout.index_path, write=True)
    try:
        index.execute("VACUUM")
    finally:
        index.close()


class ObjectCount(NamedTuple):
    """Objects of a container, as disk-objectstore's ``count_objects`` counts them (loose copies included)."""

    packed: int
    loose: int
    pack_files: int


class TotalSize(NamedTuple):
    """Bytes of a container, as disk-objectstore's ``get_total_size`` adds them up."""

    total_size_packed: int
    total_size_packed_on_disk: int
    total_size_packfiles_on_disk: int
    total_size_packindexes_on_disk: int
    total_size_loose: int


def count_objects(layout: Layout) -> ObjectCount:
    """Return the number of packed objects, of loose files and of pack files."""
    index = connect_index(layout.index_path)
    try:
        packed = index.execute("SELECT count(*) FROM db_object").fetchall()[0][0]
    finally:
        index.close()
    return ObjectCount(packed, len(layout.loose_keys()), len(layout.pack_ids()))


def total_size(layout: Layout) -> TotalSize:
    """Return the sizes of the packed objects (uncompressed and on disk), pack files, index and loose files."""
    index = connect_index(layout.index_path)
    try:
        size, length = index.execute(
            "SELECT coalesce(sum(size), 0), coalesce(sum(length), 0) FROM db_object"
        ).fetchall()[0]
    finally:
        index.close()
    packs = sum(os.stat(layout.pack_path(pack_id)).st_size for pack_id in layout.pack_ids())
    loose = sum(os.stat(layout.loose_path(key)).st_size for key in layout.loose_keys())
    return TotalSize(size, length, packs, os.stat(layout.index_path).st_size, loose)
