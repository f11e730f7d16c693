"""Write one loose object into a disk-objectstore container: durable and atomic with two fsyncs, not three.

disk-objectstore's own writer (``Container.add_streamed_object``) fsyncs the new file, then the temporary
``sandbox/`` folder, then the ``loose/`` folder: three journal commits per object. A durable atomic write
needs two: the file before it is renamed into place, and the folder that received the name afterwards
(fsyncing ``sandbox/`` only persists a name that is about to disappear). This writer leaves exactly what
disk-objectstore's would, in the container's documented layout (partial files in ``sandbox/``, objects in
``loose/<prefix>/<rest>``), which is why single small writes run at about twice disk-objectstore's rate.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from pathlib import Path
from typing import BinaryIO

from provstore.repository.abstract import CHUNK_SIZE

__all__ = ["write_loose_object"]


def _fsync_folder(folder: Path) -> None:
    """Persist the entries of ``folder`` (new names in it) to disk."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _start_writeback(descriptor: int, offset: int, length: int) -> None:
    """Ask the kernel to start writing a chunk to disk now, so that hashing the next chunk overlaps the I/O.

    Without it the whole object waits in the page cache until the final fsync, and the time to hash it
    adds to the time to write it. (Linux; a no-op where ``posix_fadvise`` does not exist.)
    """
    if hasattr(os, "posix_fadvise"):
        with contextlib.suppress(OSError):  # only a hint: a file system may not support it
            os.posix_fadvise(descriptor, offset, length, os.POSIX_FADV_DONTNEED)


def write_loose_object(folder: Path, prefix_length: int, handle: BinaryIO) -> str:
    """Stream ``handle`` into a new loose object of the (sha256) container in ``folder`` and return its key.

    The content is hashed while it is written, in chunks, so each byte is read, hashed and written once,
    and each chunk's write-back starts while the next one is hashed.
    The complete, fsynced file is renamed into place atomically; if another process stored the same content
    at the same moment, the rename replaces an identical file, so readers always see a whole object.
    """
    temporary = folder / "sandbox" / uuid.uuid4().hex
    digest = hashlib.sha256()
    try:
        with open(temporary, "xb") as out:
            written = 0
            while chunk := handle.read(CHUNK_SIZE):
                digest.update(chunk)
                out.write(chunk)
                out.flush()
                _start_writeback(out.fileno(), written, len(chunk))
                written += len(chunk)
            os.fsync(out.fileno())
        key = digest.hexdigest()
        parent = folder / "loose" / key[:prefix_length] if prefix_length else folder / "loose"
        try:
            parent.mkdir()
            _fsync_folder(parent.parent)  # a new prefix folder must itself be durable
        except FileExistsError:
            pass
        os.replace(temporary, parent / key[prefix_length:])
        _fsync_folder(parent)
    finally:
        temporary.unlink(missing_ok=True)
    return key
