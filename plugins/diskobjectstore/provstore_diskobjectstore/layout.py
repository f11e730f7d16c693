"""The parts of disk-objectstore's on-disk format that this plugin reads and writes itself, pinned to known versions.

A container is a folder holding ``config.json``, loose objects under ``loose/<prefix>/<rest of the key>``,
pack files ``packs/<integer id>`` (objects appended one after the other, each raw or zlib-compressed), and the
pack index ``packs.idx``: an SQLite database (WAL mode) whose table ``db_object`` gives, per packed object,
its pack, offset, length on disk, whether it is compressed and its uncompressed size. That format is
disk-objectstore's ``container_version`` 1, the only version that disk-objectstore 1.x writes. A container of
another version, another compression algorithm or an index without these columns is read and maintained
through disk-objectstore's own API instead (see :func:`read_layout`).
"""

from __future__ import annotations

import os
import re
import sqlite3
import urllib.parse
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["CONTAINER_VERSIONS", "INDEX_COLUMNS", "Layout", "connect_index", "immutable_index_open", "read_layout"]

CONTAINER_VERSIONS = frozenset({1})
"""The ``container_version`` values of ``config.json`` whose layout this module knows."""
INDEX_COLUMNS = frozenset({"id", "hashkey", "compressed", "size", "offset", "length", "pack_id"})
"""The columns of the pack index table ``db_object`` that are read and written directly."""
_ZLIB = re.compile(r"zlib\+([1-9])")
_PACK_ID = re.compile(r"(0|[1-9][0-9]*)")


class _ImmutableConnection(sqlite3.Connection):
    """An index connection opened ``immutable`` (a subclass, so that it can be weakly referenced)."""


_IMMUTABLE: weakref.WeakSet[_ImmutableConnection] = weakref.WeakSet()
"""The index connections opened ``immutable`` because the disk was full (they do not see later writes)."""


@dataclass(frozen=True)
class Layout:
    """Where a container of a known version keeps what, and how it packs (from its ``config.json``)."""

    folder: Path
    loose_prefix_len: int
    pack_size_target: int
    zlib_level: int
    """Compression level of compressed packed objects (``compression_algorithm`` ``zlib+<level>``)."""

    def __post_init__(self) -> None:
        # paths are joined as strings, from parts computed once: a read builds one path per object
        object.__setattr__(self, "loose_folder", f"{self.folder}{os.sep}loose{os.sep}")
        object.__setattr__(self, "packs_folder", f"{self.folder}{os.sep}packs{os.sep}")

    loose_folder: str = field(init=False)
    """The folder of the loose objects, with a trailing separator."""
    packs_folder: str = field(init=False)
    """The folder of the pack files, with a trailing separator."""

    @property
    def index_path(self) -> Path:
        """Return the path of the pack index."""
        return self.folder / "packs.idx"

    def loose_path(self, key: str) -> str:
        """Return the path of the loose object ``key``."""
        prefix = self.loose_prefix_len
        return f"{self.loose_folder}{key[:prefix]}{os.sep}{key[prefix:]}" if prefix else self.loose_folder + key

    def pack_path(self, pack_id: int) -> str:
        """Return the path of pack file ``pack_id``."""
        return f"{self.packs_folder}{pack_id}"

    def pack_ids(self) -> list[int]:
        """Return the ids of the pack files present, in increasing order (the temporary repack pack excluded)."""
        return sorted(int(name) for name in os.listdir(self.packs_folder) if _PACK_ID.fullmatch(name))

    def loose_keys(self) -> list[str]:
        """Return the keys of all loose objects, sorted (skipping names that cannot be keys, as disk-objectstore)."""
        prefix = self.loose_prefix_len
        rest = 64 - prefix
        keys: list[str] = []
        with os.scandir(self.loose_folder) as entries:
            if not prefix:
                return sorted(entry.name for entry in entries if len(entry.name) == 64 and _is_hex(entry.name))
            folders = [entry.name for entry in entries if len(entry.name) == prefix and _is_hex(entry.name)]
        for name in sorted(folders):
            with os.scandir(self.loose_folder + name) as entries:
                keys.extend(sorted(name + e.name for e in entries if len(e.name) == rest and _is_hex(e.name)))
        return keys


def _is_hex(text: str) -> bool:
    """Return whether ``text`` is lower-case hexadecimal."""
    return text.strip("0123456789abcdef") == ""


def read_layout(folder: Path, config: dict[str, Any]) -> Layout | None:
    """Return the layout of the container described by ``config``, or None if its format is not a pinned one.

    Pinned: ``container_version`` in :data:`CONTAINER_VERSIONS`, ``zlib+1`` to ``zlib+9`` compression, an
    integer ``loose_prefix_len`` and ``pack_size_target``, and a pack index with :data:`INDEX_COLUMNS`.
    """
    version, prefix = config.get("container_version"), config.get("loose_prefix_len")
    target = config.get("pack_size_target")
    algorithm = _ZLIB.fullmatch(str(config.get("compression_algorithm")))
    if version not in CONTAINER_VERSIONS or algorithm is None:
        return None
    if not all(isinstance(value, int) and not isinstance(value, bool) for value in (prefix, target)):
        return None
    layout = Layout(folder, prefix, target, int(algorithm.group(1)))
    try:
        index = connect_index(layout.index_path)
    except sqlite3.Error:
        return None
    try:
        columns = {row[1] for row in index.execute("PRAGMA table_info(db_object)").fetchall()}
    except sqlite3.Error:
        return None
    finally:
        index.close()
    return layout if INDEX_COLUMNS <= columns else None


def connect_index(path: Path, *, write: bool = False) -> sqlite3.Connection:
    """Open the pack index, refusing writes unless ``write``; autocommit, so that every query reads the latest commit.

    (An open read transaction would keep reading an old snapshot of the index, as disk-objectstore's sessions do.)
    A reading connection is opened read-write with ``query_only`` where the file allows it: it reads as a
    read-only one would, but when it is the last to close it checkpoints the WAL and removes the ``-wal`` and
    ``-shm`` files, as disk-objectstore's own sessions do (a read-only connection would leave them behind).

    :raises sqlite3.OperationalError: if the index does not exist.
    """

    def connect(mode: str) -> sqlite3.Connection:
        return sqlite3.connect(
            f"file:{urllib.parse.quote(str(path))}?mode={mode}",
            uri=True,
            isolation_level=None,
            check_same_thread=False,
            timeout=60,
        )

    if write:
        return connect("rw")
    try:
        connection = connect("rw")
    except sqlite3.OperationalError:
        return _readable(connect("ro"), path, connect)  # a read-only file or disk
    connection.execute("PRAGMA query_only = ON")
    return _readable(connection, path, connect)


def _readable(connection: sqlite3.Connection, path: Path, connect: Any) -> sqlite3.Connection:
    """Return ``connection`` if it can read; on a full or read-only disk, a connection that needs no ``-shm``.

    Reading a WAL database allocates its shared-memory index (``-shm``), which fails on a full disk or a
    read-only one. When the ``-wal`` file holds nothing, the index file alone is complete: it is then read as
    ``immutable`` (nothing can write it while the disk is full; a writer after space is freed only adds
    objects whose loose copies stay until full maintenance, which no reader may be open during).
    """
    try:
        connection.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        return connection
    except sqlite3.OperationalError:
        connection.close()
        wal = path.with_name(path.name + "-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise
        connection = sqlite3.connect(
            f"file:{urllib.parse.quote(str(path))}?mode=ro&immutable=1",
            uri=True,
            isolation_level=None,
            check_same_thread=False,
            factory=_ImmutableConnection,
        )
        _IMMUTABLE.add(connection)
        return connection


def immutable_index_open() -> bool:
    """Return whether an index connection of this process reads the index as ``immutable`` (a full disk's)."""
    return len(_IMMUTABLE) > 0
