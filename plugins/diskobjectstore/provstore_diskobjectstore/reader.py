"""Read objects of a container of a pinned format straight from its files, with one prepared index query.

disk-objectstore compiles an SQLAlchemy query and opens a database session for every read, even of a loose
object that is one ``open()`` away: 5-7 ms per object. Here a single read first opens the loose file (no
database involved); only if there is none it asks the pack index, through one plain ``sqlite3`` connection
per thread (read-only, autocommit: every query sees the latest commit) whose statement SQLite keeps
prepared, and reads the packed bytes with positioned reads of the pack file.

Why the order is safe while another process packs: packing appends to a pack file, fsyncs it and commits the
index rows before any loose copy is deleted (disk-objectstore's order, and :mod:`.packer`'s). A loose file
that exists is complete (written aside and renamed into place); one that is gone was packed and committed
first, and the index query, which starts after the failed ``open``, sees that commit. Pack files are only
appended to while the repository is live; rewriting them (repack) is refused while it is in use.
"""

from __future__ import annotations

import io
import itertools
import os
import sqlite3
import threading
import zlib
from collections.abc import Iterator
from typing import Any, BinaryIO

from provstore.exceptions import CorruptStorage
from provstore.repository.abstract import CHUNK_SIZE
from provstore.repository.streams import RawReader

from provstore_diskobjectstore.layout import Layout, connect_index

__all__ = ["ContainerReader", "PackedStream", "ZlibStream"]

_LOOKUP = "SELECT pack_id, offset, length, compressed, size FROM db_object WHERE hashkey = ?"
_SCAN = "SELECT hashkey, pack_id, offset, length, compressed, size FROM db_object"
_MAX_ID = "SELECT max(id) FROM db_object"
_CHUNK_KEYS = 500
"""Keys per ``IN (...)`` query when looking up many objects (SQLite allows 32,766 parameters)."""
_SCAN_FACTOR = 8
"""Scan the whole index instead when the keys are at least an eighth of its rows (ids estimate the rows)."""
_SMALL = 256 * 1024
"""Packed objects up to this size are read together with their neighbours and served from memory."""
_RUN = 1024 * 1024
"""Largest span of a pack file read at once for small neighbouring objects (the memory bound of iteration)."""
_GAP = 16 * 1024
"""Largest hole between two small objects still read through rather than with a second read."""

Row = tuple[str, int, int, int, int, int]
"""``(key, pack_id, offset, length, compressed, size)`` of a packed object."""


def _by_position(row: Row) -> tuple[int, int]:
    """Return the place of a packed object: its pack, then its offset."""
    return row[1], row[2]


def _missing(key: str) -> FileNotFoundError:
    """Return the error for an object that does not exist."""
    return FileNotFoundError(f"object with key `{key}` does not exist")


def _pread(descriptor: int, length: int, offset: int) -> bytes:
    """Read exactly ``length`` bytes at ``offset``; a shorter file means a damaged pack."""
    data = os.pread(descriptor, length, offset)
    if len(data) == length:
        return data
    parts = [data]
    read = len(data)
    while read < length:
        part = os.pread(descriptor, length - read, offset + read)
        if not part:
            raise CorruptStorage(f"a pack file ends before byte {offset + length:,}: the container is damaged")
        parts.append(part)
        read += len(part)
    return b"".join(parts)


class _PackSpan(RawReader):
    """A seekable read-only stream of the ``length`` bytes at ``offset`` of a pack file, owning its descriptor."""

    def __init__(self, descriptor: int, offset: int, length: int) -> None:
        super().__init__()
        self._descriptor = descriptor
        self._start = offset
        self._length = length
        self._position = 0

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def close(self) -> None:
        if not self.closed:
            os.close(self._descriptor)
        super().close()


class PackedStream(_PackSpan):
    """A seekable read-only stream of one uncompressed packed object, read with ``pread`` on its own descriptor."""

    def read(self, size: int | None = -1) -> bytes:
        """Return up to ``size`` bytes (all the rest if ``size`` is negative or None)."""
        if self.closed:
            raise ValueError("I/O operation on closed file")
        remaining = self._length - self._position
        if size is None or size < 0 or size > remaining:
            size = remaining
        if size <= 0:
            return b""
        data = _pread(self._descriptor, size, self._start + self._position)
        self._position += size
        return data

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if self.closed:
            raise ValueError("I/O operation on closed file")
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._length}[whence]
        if base + offset < 0:
            raise ValueError(f"negative seek position {base + offset}")
        self._position = base + offset
        return self._position


class ZlibStream(_PackSpan):
    """A read-only stream of one compressed packed object, decompressed chunk by chunk as it is read.

    Seeking forward reads through; seeking backward starts decompressing again from the beginning.
    """

    def __init__(self, descriptor: int, offset: int, length: int, size: int) -> None:
        super().__init__(descriptor, offset, length)
        self._size = size
        self._rewind()

    def _rewind(self) -> None:
        """Go back to the start of the object."""
        self._decompressor = zlib.decompressobj()
        self._consumed = 0  # compressed bytes read from the pack
        self._tail = b""  # compressed bytes read but not yet decompressed
        self._position = 0  # uncompressed bytes returned

    def read(self, size: int | None = -1) -> bytes:
        """Return up to ``size`` uncompressed bytes (all the rest if ``size`` is negative or None)."""
        if self.closed:
            raise ValueError("I/O operation on closed file")
        remaining = self._size - self._position
        if size is None or size < 0 or size > remaining:
            size = remaining
        parts, got = [], 0
        while got < size:
            data = self._tail
            if not data and self._consumed < self._length:
                count = min(CHUNK_SIZE, self._length - self._consumed)
                data = _pread(self._descriptor, count, self._start + self._consumed)
                self._consumed += count
            piece = self._decompressor.decompress(data, size - got)
            self._tail = self._decompressor.unconsumed_tail
            if not piece and not self._tail and self._consumed >= self._length:
                break
            parts.append(piece)
            got += len(piece)
        if got < size:
            raise CorruptStorage("a compressed packed object is shorter than its size: the container is damaged")
        self._position += got
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if self.closed:
            raise ValueError("I/O operation on closed file")
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        target = base + offset
        if target < 0:
            raise ValueError(f"negative seek position {target}")
        if target < self._position:
            self._rewind()
        while self._position < min(target, self._size):
            self.read(min(CHUNK_SIZE, target - self._position))
        self._position = max(self._position, target)
        return self._position


def _decompress(data: bytes, size: int) -> bytes:
    """Return the uncompressed content of a small compressed object, checked against its recorded size."""
    content = zlib.decompress(data)
    if len(content) != size:
        raise CorruptStorage("a compressed packed object does not have its recorded size: the container is damaged")
    return content


class ContainerReader:
    """Reads the objects of one open container of a pinned format; thread-safe, one index connection per thread."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _index(self) -> sqlite3.Connection:
        """Return this thread's connection to the pack index (a new one after ``fork``)."""
        local = self._local
        connection = getattr(local, "connection", None)
        if connection is None or local.pid != os.getpid():
            connection = self._connect()
            local.connection, local.pid = connection, os.getpid()
            with self._lock:
                self._connections.append(connection)
        return connection

    def _connect(self) -> sqlite3.Connection:
        try:
            return connect_index(self.layout.index_path)
        except sqlite3.OperationalError:
            raise CorruptStorage(f"the pack index {self.layout.index_path} cannot be opened") from None

    def close(self) -> None:
        """Close the index connections of every thread."""
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()
        self._local = threading.local()

    # ------------------------------------------------------------------------ single objects
    def _lookup(self, key: str) -> tuple[int, int, int, int, int]:
        """Return ``(pack_id, offset, length, compressed, size)`` of a packed object.

        :raises FileNotFoundError: if the index has no such object.
        """
        rows = self._index().execute(_LOOKUP, (key,)).fetchall()  # fetchall ends the statement's read snapshot
        if not rows:
            raise _missing(key)
        return rows[0]

    def content(self, key: str) -> bytes:
        """Return the whole content of object ``key`` (a valid sha256 key)."""
        try:
            descriptor = os.open(self.layout.loose_path(key), os.O_RDONLY)
        except FileNotFoundError:
            pass
        else:
            try:
                return _pread(descriptor, os.fstat(descriptor).st_size, 0)
            finally:
                os.close(descriptor)
        pack_id, offset, length, compressed, size = self._lookup(key)
        descriptor = self._open_pack(pack_id)
        try:
            data = _pread(descriptor, length, offset) if length else b""
        finally:
            os.close(descriptor)
        return _decompress(data, size) if compressed else data

    def open(self, key: str) -> BinaryIO:
        """Return a read-only stream of object ``key``, to be closed by the caller (it is a context manager)."""
        try:
            return open(self.layout.loose_path(key), "rb")
        except FileNotFoundError:
            pass
        pack_id, offset, length, compressed, size = self._lookup(key)
        descriptor = self._open_pack(pack_id)
        if compressed:
            return ZlibStream(descriptor, offset, length, size)  # type: ignore[return-value]
        return PackedStream(descriptor, offset, length)  # type: ignore[return-value]

    def _open_pack(self, pack_id: int) -> int:
        """Return a new descriptor of pack file ``pack_id``; a pack the index names must exist."""
        try:
            return os.open(self.layout.pack_path(pack_id), os.O_RDONLY)
        except FileNotFoundError:
            raise CorruptStorage(f"the pack index names pack {pack_id}, which does not exist") from None

    # -------------------------------------------------------------------------- many objects
    def _lookup_many(self, keys: list[str]) -> list[Row]:
        """Return the index rows of those ``keys`` that are packed, sorted by pack and offset.

        Keys are looked up ``_CHUNK_KEYS`` at a time through the index on ``hashkey``; when they are many
        compared with the objects in the index, one scan of the table is cheaper than that many look-ups.
        """
        index = self._index()
        rows: list[Row]
        if len(keys) > _CHUNK_KEYS and len(keys) * _SCAN_FACTOR >= (index.execute(_MAX_ID).fetchall()[0][0] or 0):
            wanted = set(keys)
            rows = [row for row in index.execute(_SCAN).fetchall() if row[0] in wanted]
        else:
            rows = []
            for start in range(0, len(keys), _CHUNK_KEYS):
                chunk = keys[start : start + _CHUNK_KEYS]
                statement = f"{_SCAN} WHERE hashkey IN ({', '.join('?' * len(chunk))})"
                rows.extend(index.execute(statement, chunk).fetchall())
        rows.sort(key=_by_position)
        return rows

    def packed(self, keys: list[str]) -> set[str]:
        """Return those of ``keys`` that are in the pack index."""
        return {row[0] for row in self._lookup_many(keys)}

    def exists(self, keys: list[str]) -> set[str]:
        """Return those of ``keys`` (valid sha256 keys) that exist, packed or loose."""
        found = self.packed(keys)
        loose_path, exists = self.layout.loose_path, os.path.exists
        absent = [key for key in keys if key not in found and not exists(loose_path(key))]
        if absent:  # a loose object packed and deleted since the query is in the index now
            packed_meanwhile = self.packed(absent)
            absent = [key for key in absent if key not in packed_meanwhile]
        return set(keys).difference(absent)

    def iter_streams(self, keys: list[str]) -> Iterator[tuple[str, BinaryIO]]:
        """Yield ``(key, stream)`` for each distinct key: packed objects pack by pack in offset order, then loose.

        Each stream is valid until the iterator advances. Small packed neighbours are read together (at most
        :data:`_RUN` bytes at once) and served from memory; larger objects stream from their own descriptor.

        :raises FileNotFoundError: after the existing objects, naming those that do not exist.
        """
        wanted = list(dict.fromkeys(keys))
        rows = self._lookup_many(wanted)
        yield from self._stream_rows(rows)
        packed = {row[0] for row in rows}
        gone, loose_path = [], self.layout.loose_path
        for key in wanted:
            if key in packed:
                continue
            try:
                descriptor = os.open(loose_path(key), os.O_RDONLY)
            except FileNotFoundError:
                gone.append(key)
                continue
            size = os.fstat(descriptor).st_size
            if size > _SMALL:
                with open(descriptor, "rb") as handle:
                    yield key, handle  # type: ignore[misc]
                continue
            try:
                data = _pread(descriptor, size, 0)
            finally:
                os.close(descriptor)
            yield key, io.BytesIO(data)  # type: ignore[misc]
        if gone:  # packed (and its loose copy cleaned) since the first query, or missing
            rows = self._lookup_many(gone)
            yield from self._stream_rows(rows)
            if missing := sorted(set(gone) - {row[0] for row in rows}):
                raise FileNotFoundError(f"objects do not exist: {', '.join(missing)}")

    def _stream_rows(self, rows: list[Row]) -> Iterator[tuple[str, BinaryIO]]:
        """Yield the streams of packed objects (``rows`` sorted by pack and offset), one descriptor per pack."""
        for pack_id, group in itertools.groupby(rows, key=lambda row: row[1]):
            descriptor = self._open_pack(pack_id)
            try:
                yield from self._stream_pack(descriptor, list(group))
            finally:
                os.close(descriptor)

    def _stream_pack(self, descriptor: int, rows: list[Row]) -> Iterator[tuple[str, Any]]:
        """Yield the streams of the objects of one pack, reading runs of small neighbours with one ``pread``."""
        index, BytesIO = 0, io.BytesIO  # noqa: N806 (a local name for the hot loop)
        while index < len(rows):
            key, _, offset, length, compressed, size = rows[index]
            if length > _SMALL or size > _SMALL:
                stream: Any = (
                    ZlibStream(os.dup(descriptor), offset, length, size)
                    if compressed
                    else PackedStream(os.dup(descriptor), offset, length)
                )
                with stream:
                    yield key, stream
                index += 1
                continue
            end, stop = offset + length, index + 1
            while stop < len(rows):
                _, _, next_offset, next_length, _, next_size = rows[stop]
                if next_length > _SMALL or next_size > _SMALL or next_offset - end > _GAP:
                    break
                if next_offset + next_length - offset > _RUN:
                    break
                end = max(end, next_offset + next_length)
                stop += 1
            run = _pread(descriptor, end - offset, offset) if end > offset else b""
            for key, _, start, length, compressed, size in rows[index:stop]:
                start -= offset
                data = run[start : start + length]
                yield key, BytesIO(_decompress(data, size) if compressed else data)
            index = stop
