"""Copy every object of one repository into another in bounded batches, hashing each byte, then verify the copy.

When both repositories key objects by sha256 the keys stay the same and objects the target already
holds are skipped. Otherwise (for example a ``uuid4`` sandbox into a disk-objectstore) the target
chooses new keys, and :meth:`ObjectCopier.target_key` maps each source key to its new key so that the
nodes' ``repository_metadata`` can be rewritten; that map is the only part held in memory per object.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Iterator
from typing import BinaryIO

from provstore.exceptions import CorruptStorage
from provstore.iterables import batched
from provstore.repository.abstract import CHUNK_SIZE, AbstractRepositoryBackend
from provstore.transfer.report import TransferReport

__all__ = ["ObjectCopier", "hash_stream"]

SHA256 = "sha256"
BATCH_BYTES = 64 * 1024 * 1024
"""Bytes of object content gathered before they are written to the target in one batch."""

_Pending = tuple[str, str, int, tempfile.SpooledTemporaryFile]  # source key, sha256, size, spooled content


def hash_stream(stream: BinaryIO, sink: Callable[[bytes], object] | None = None) -> tuple[str, int]:
    """Return the sha256 hex digest and size of what ``stream`` yields, passing each chunk to ``sink`` too."""
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(CHUNK_SIZE):
        digest.update(chunk)
        size += len(chunk)
        if sink is not None:
            sink(chunk)
    return digest.hexdigest(), size


class ObjectCopier:
    """Copies the objects of ``source`` into ``target`` and remembers how their keys map."""

    def __init__(
        self,
        source: AbstractRepositoryBackend,
        target: AbstractRepositoryBackend,
        batch_size: int,
        report: TransferReport,
    ) -> None:
        self.source = source
        self.target = target
        self.batch_size = batch_size
        self.report = report
        self.source_format, self.target_format = source.key_format, target.key_format
        self.same_keys = self.source_format == SHA256 and self.target_format == SHA256
        self._key_map: dict[str, tuple[str, str]] = {}  # source key -> (target key, sha256), only if keys differ
        if not self.same_keys:
            report.key_conversion = f"{self.source_format} -> {self.target_format}"

    def target_key(self, source_key: str) -> str | None:
        """Return the target's key of the object stored in the source under ``source_key`` (None: not copied)."""
        if self.same_keys:
            return source_key
        entry = self._key_map.get(source_key)
        return entry[0] if entry is not None else None

    def count(self) -> int:
        """Return the number of objects in the source (listing them once)."""
        return sum(1 for _ in self.source.list_objects())

    # ------------------------------------------------------------------------------ copying
    def copy(self, advance: Callable[[int], None]) -> None:
        """Copy every source object the target lacks, ``batch_size`` keys at a time."""
        for keys in batched(self.source.list_objects(), self.batch_size):
            self.report.objects.source += len(keys)
            todo = keys
            if self.same_keys:
                todo = [key for key, present in zip(keys, self.target.has_objects(keys), strict=True) if not present]
                self.report.objects.existing += len(keys) - len(todo)
            self._copy_keys(todo)
            advance(len(keys))

    def _copy_keys(self, keys: list[str]) -> None:
        """Spool the objects of ``keys`` (hashing them) and write them to the target in batches of bounded bytes."""
        if not keys:
            return
        pending: list[_Pending] = []
        pending_bytes = 0
        try:
            for key, stream in self._source_streams(keys):
                spool = tempfile.SpooledTemporaryFile(max_size=CHUNK_SIZE)
                digest, size = hash_stream(stream, spool.write)
                if self.source_format == SHA256 and digest != key:
                    spool.close()
                    raise CorruptStorage(f"source object {key} has sha256 {digest}: its content is corrupt")
                pending.append((key, digest, size, spool))
                pending_bytes += size
                if pending_bytes >= BATCH_BYTES:
                    self._flush(pending)  # empties ``pending``
                    pending_bytes = 0
            self._flush(pending)
        finally:
            for *_, spool in pending:
                spool.close()

    def _source_streams(self, keys: list[str]) -> Iterator[tuple[str, BinaryIO]]:
        """Yield the source's streams of ``keys``; an object it lists but cannot read means it is corrupt."""
        try:
            yield from self.source.iter_object_streams(keys)
        except FileNotFoundError as exc:
            raise CorruptStorage(f"the source repository lost an object it lists: {exc}") from None

    def _flush(self, pending: list[_Pending]) -> None:
        """Write the spooled objects the target lacks and record their keys."""
        if not pending:
            return
        to_put = pending
        if not self.same_keys and self.target_format == SHA256:
            present = self.target.has_objects([digest for _, digest, _, _ in pending])
            to_put = []
            for item, exists in zip(pending, present, strict=True):
                if exists:
                    self._key_map[item[0]] = (item[1], item[1])
                    self.report.objects.existing += 1
                else:
                    to_put.append(item)
        for *_, spool in to_put:
            spool.seek(0)
        new_keys = self.target.put_objects_from_filelikes([spool for *_, spool in to_put])
        for (key, digest, size, _), new_key in zip(to_put, new_keys, strict=True):
            if self.target_format == SHA256 and new_key != digest:
                raise CorruptStorage(f"the target stored object {key} under key {new_key}, not its sha256 {digest}")
            if not self.same_keys:
                self._key_map[key] = (new_key, digest)
            self.report.objects.copied += 1
            self.report.bytes_copied += size
        for *_, spool in pending:
            spool.close()
        pending.clear()

    # ---------------------------------------------------------------------------- verifying
    def verify(self, advance: Callable[[int], None]) -> None:
        """Check that the target holds every source object with the same sha256, reading the target's copies.

        :raises CorruptStorage: an object is missing from the target or its content differs.
        """
        for keys in batched(self.source.list_objects(), self.batch_size):
            expected: dict[str, str] = {}
            for key in keys:
                if self.same_keys:
                    expected[key] = key
                    continue
                entry = self._key_map.get(key)
                if entry is None:
                    raise CorruptStorage(f"verification failed: source object {key} was not copied")
                expected[entry[0]] = entry[1]
            seen = set()
            try:
                for key, stream in self.target.iter_object_streams(list(expected)):
                    digest, _ = hash_stream(stream)
                    if digest != expected[key]:
                        raise CorruptStorage(f"verification failed: target object {key} has sha256 {digest}")
                    seen.add(key)
            except FileNotFoundError as exc:
                raise CorruptStorage(f"verification failed: the target lacks objects: {exc}") from None
            if len(seen) != len(expected):
                missing = sorted(set(expected) - seen)[:3]
                raise CorruptStorage(f"verification failed: the target lacks objects {', '.join(missing)}")
            advance(len(keys))
