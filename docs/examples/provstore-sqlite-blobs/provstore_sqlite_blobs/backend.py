"""The ``acme.sqliteblobs`` repository: every object in one SQLite file, addressed by the SHA-256 of its content.

An object is a row of ``objects`` (key, size) plus its content split over numbered rows of ``chunks``, so
writing and reading stream in chunks and never hold a whole object in memory. A write streams its chunks
under a temporary key inside one transaction and renames them to the content hash at the end: a failed
write leaves nothing behind, and identical content is stored once.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import sqlite3
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pydantic
from provstore.exceptions import UnreachableStorage, ValidationError
from provstore.repository import AbstractRepositoryBackend
from provstore.repository.abstract import CHUNK_SIZE, validate_key

__all__ = ["SqliteBlobRepositoryBackend"]

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS objects (key TEXT PRIMARY KEY, size INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS chunks (key TEXT NOT NULL, seq INTEGER NOT NULL, data BLOB NOT NULL,"
    " PRIMARY KEY (key, seq))",
)
_BATCH = 500  # keys per ``IN (...)`` clause, well below SQLite's parameter limit


class _ChunkStream(io.RawIOBase):
    """Read-only byte stream over the chunks of one object, fetching one chunk at a time."""

    def __init__(self, connection: sqlite3.Connection, key: str) -> None:
        super().__init__()
        self._connection = connection
        self._key = key
        self._seq = 0
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        """Copy the next bytes into ``buffer``; fetch the next chunk when the current one is used up."""
        while not self._pending:
            row = self._connection.execute(
                "SELECT data FROM chunks WHERE key = ? AND seq = ?", (self._key, self._seq)
            ).fetchone()
            if row is None:
                return 0
            self._seq += 1
            self._pending = memoryview(row[0])
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


class SqliteBlobRepositoryBackend(AbstractRepositoryBackend):
    """Content-addressed repository stored in a single SQLite file (WAL mode, safe for several processes)."""

    class Configuration(pydantic.BaseModel):
        """Settings of an ``acme.sqliteblobs`` repository."""

        model_config = pydantic.ConfigDict(extra="forbid")

        filepath: str = pydantic.Field(description="Path of the SQLite file holding the objects (made by initialise).")
        chunk_size: int = pydantic.Field(
            default=CHUNK_SIZE, gt=0, description="Largest number of bytes stored in one chunk row."
        )

    def __init__(self, filepath: str | Path, chunk_size: int = CHUNK_SIZE) -> None:
        """Describe the repository in ``filepath``; nothing is opened until it is used."""
        if chunk_size <= 0:
            raise ValidationError(f"chunk_size must be positive, got {chunk_size}")
        self._filepath = Path(filepath)
        self._chunk_size = chunk_size
        self._connection: sqlite3.Connection | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} filepath={str(self._filepath)!r}>"

    # ------------------------------------------------------------------------------ connection handling
    def _connect(self) -> sqlite3.Connection:
        """Return the open connection, opening the file on first use (it must already exist)."""
        if self._connection is None:
            if not self._filepath.is_file():
                raise UnreachableStorage(f"repository file {self._filepath} does not exist: initialise it first")
            # autocommit mode: transactions are opened explicitly by _writing()
            connection = sqlite3.connect(self._filepath, timeout=30, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            self._connection = connection
        return self._connection

    @contextlib.contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """Run the block in one write transaction, rolled back if it raises."""
        connection = self._connect()
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    def close(self) -> None:
        """Close the connection to the file; the next use reopens it."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    # ------------------------------------------------------------------------------ identity and lifecycle
    @property
    def uuid(self) -> str | None:
        """Return the identifier written by :meth:`initialise`, or None when not initialised."""
        if not self.is_initialised:
            return None
        row = self._connect().execute("SELECT value FROM meta WHERE name = 'uuid'").fetchone()
        return row[0]

    @property
    def key_format(self) -> str:
        """Keys are the SHA-256 hex digest of the content."""
        return "sha256"

    @property
    def is_initialised(self) -> bool:
        """Return whether the file exists and holds the repository's tables."""
        if not self._filepath.is_file():
            return False
        query = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('meta', 'objects', 'chunks')"
        if self._connect().execute(query).fetchone()[0] != len(_SCHEMA):
            return False
        return self._connect().execute("SELECT 1 FROM meta WHERE name = 'uuid'").fetchone() is not None

    def initialise(self, **kwargs: Any) -> None:
        """Create the file and its tables if needed; an initialised repository is left as it is."""
        if kwargs:
            raise ValidationError(f"acme.sqliteblobs takes no initialisation settings, got {sorted(kwargs)}")
        if self.is_initialised:
            return
        self._filepath.parent.mkdir(parents=True, exist_ok=True)
        self._filepath.touch()
        with self._writing() as connection:
            for statement in _SCHEMA:
                connection.execute(statement)
            connection.execute("INSERT OR IGNORE INTO meta (name, value) VALUES ('uuid', ?)", (uuid.uuid4().hex,))

    def erase(self) -> None:
        """Delete the file (with SQLite's journal files) and so every object."""
        self.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self._filepath}{suffix}").unlink(missing_ok=True)

    # -------------------------------------------------------------------------------------------- writing
    def write_object_stream(self, handle: BinaryIO) -> str:
        """Stream ``handle`` into chunk rows under a temporary key, then rename them to the content hash."""
        digest = hashlib.sha256()
        partial = f"partial-{uuid.uuid4().hex}"
        size = 0
        with self._writing() as connection:
            seq = 0
            while chunk := handle.read(self._chunk_size):
                digest.update(chunk)
                size += len(chunk)
                connection.execute("INSERT INTO chunks (key, seq, data) VALUES (?, ?, ?)", (partial, seq, chunk))
                seq += 1
            key = digest.hexdigest()
            if connection.execute("SELECT 1 FROM objects WHERE key = ?", (key,)).fetchone():
                connection.execute("DELETE FROM chunks WHERE key = ?", (partial,))
            else:
                connection.execute("UPDATE chunks SET key = ? WHERE key = ?", (key, partial))
                connection.execute("INSERT INTO objects (key, size) VALUES (?, ?)", (key, size))
        return key

    # -------------------------------------------------------------------------------------------- reading
    def _existing(self, keys: list[str]) -> set[str]:
        """Return the subset of ``keys`` that are stored, validating each key."""
        for key in keys:
            validate_key(key)
        connection = self._connect()
        found: set[str] = set()
        for start in range(0, len(keys), _BATCH):
            batch = keys[start : start + _BATCH]
            marks = ", ".join("?" * len(batch))
            found.update(row[0] for row in connection.execute(f"SELECT key FROM objects WHERE key IN ({marks})", batch))
        return found

    def has_objects(self, keys: list[str]) -> list[bool]:
        """Return, for each key in order, whether the object is stored."""
        found = self._existing(list(keys))
        return [key in found for key in keys]

    def list_objects(self) -> Iterable[str]:
        """Return the keys of all objects."""
        return [row[0] for row in self._connect().execute("SELECT key FROM objects ORDER BY key")]

    def iter_object_streams(self, keys: list[str]) -> Iterator[tuple[str, BinaryIO]]:
        """Yield ``(key, stream)`` per key; each stream reads the object's chunks lazily.

        :raises FileNotFoundError: naming the first key that is not stored.
        """
        connection = self._connect()
        for key in keys:
            if not self._existing([key]):
                raise FileNotFoundError(f"object with key `{key}` does not exist")
            with io.BufferedReader(_ChunkStream(connection, key), buffer_size=self._chunk_size) as stream:
                yield key, stream

    # ------------------------------------------------------------------------------------------- deleting
    def delete_objects(self, keys: list[str]) -> None:
        """Delete the objects in one transaction; if any key is not stored, delete nothing.

        :raises FileNotFoundError: naming the keys that are not stored.
        """
        keys = list(keys)
        missing = sorted(set(keys) - self._existing(keys))
        if missing:
            raise FileNotFoundError(f"objects do not exist: {', '.join(missing)}")
        with self._writing() as connection:
            for key in set(keys):
                connection.execute("DELETE FROM chunks WHERE key = ?", (key,))
                connection.execute("DELETE FROM objects WHERE key = ?", (key,))

    # ---------------------------------------------------------------------------------------- maintenance
    def get_info(self, detailed: bool = False, **kwargs: Any) -> dict[str, Any]:
        """Return the file, the number of objects and their total size (with ``detailed``: chunks, file size)."""
        connection = self._connect()
        count, total = connection.execute("SELECT count(*), coalesce(sum(size), 0) FROM objects").fetchone()
        info: dict[str, Any] = {"filepath": str(self._filepath), "objects": count, "size": total}
        if detailed:
            info["chunks"] = connection.execute("SELECT count(*) FROM chunks").fetchone()[0]
            info["file_size"] = self._filepath.stat().st_size
            info["chunk_size"] = self._chunk_size
        return info

    def maintain(self, dry_run: bool = False, live: bool = True, **kwargs: Any) -> dict[str, Any]:
        """Fold the write-ahead log into the file and, when not ``live``, compact the file with VACUUM."""
        if kwargs:
            raise ValidationError(f"acme.sqliteblobs has no maintenance options, got {sorted(kwargs)}")
        report: dict[str, Any] = {"wal_checkpoint": True, "vacuum": not live, "dry_run": dry_run}
        if dry_run:
            return report
        connection = self._connect()
        connection.execute("PRAGMA wal_checkpoint(PASSIVE)" if live else "PRAGMA wal_checkpoint(TRUNCATE)")
        if not live:
            connection.execute("VACUUM")
        return report
