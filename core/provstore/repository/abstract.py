"""Abstract interface of a repository backend: store bytes, get back a key, read or delete by key.

The backend keeps no hierarchy: mapping keys onto virtual file paths is the storage's job
(``repository_metadata`` of a node). Concrete helpers that can be written once in terms of the
abstract primitives live here, and stream in chunks so that objects of any size are never held in memory.

What an implementation provides, in one place (``docs/api-reference.md`` tells the same with examples):

- **must**: a ``Configuration`` model whose fields are the constructor's keyword arguments; ``uuid``,
  ``key_format``, ``initialise``, ``is_initialised``, ``erase``, :meth:`~AbstractRepositoryBackend.write_object_stream`,
  ``has_objects``, ``list_objects``, ``iter_object_streams``, ``delete_objects``, ``get_info``, ``maintain``.
- **may** (correct defaults written on the primitives): ``put_objects_from_filelikes`` (a faster batch
  write), ``open``, ``get_object_content``, ``get_object_hash`` (a stored hash instead of reading the
  content), ``close`` (release handles; the default holds nothing).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, BinaryIO, ClassVar, TypeVar

import pydantic

from provstore.exceptions import ValidationError

__all__ = ["CHUNK_SIZE", "AbstractRepositoryBackend", "validate_key"]

CHUNK_SIZE = 1024 * 1024
"""Bytes read or written per step when streaming object content."""

MAX_KEY_LENGTH = 255

BackendT = TypeVar("BackendT", bound="AbstractRepositoryBackend")


def validate_key(key: object) -> str:
    """Return ``key`` if it is a safe object key, else raise :class:`~provstore.exceptions.ValidationError`.

    A key may never address a path outside the store, whatever the backend does with it:
    no empty key, no path separators or ``..``, no NUL or control characters, bounded length.
    """
    if not isinstance(key, str):
        raise ValidationError(f"repository key must be a string, got {type(key).__name__}")
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ValidationError(f"repository key must have 1 to {MAX_KEY_LENGTH} characters, got {len(key)}")
    if key in (".", "..") or "/" in key or "\\" in key or any(ord(c) < 32 or ord(c) == 127 for c in key):
        raise ValidationError(f"invalid repository key {key!r}: no path separators, '..' or control characters")
    return key


class AbstractRepositoryBackend(ABC):
    """A flat store of binary objects addressed by string keys that the backend generates."""

    Configuration: ClassVar[type[pydantic.BaseModel]]
    """Pydantic model of the backend's configuration (a profile's ``repository.config``); its fields are the
    keyword arguments of the constructor, which must not touch the store (:meth:`initialise` creates it)."""

    profile_name: str | None = None
    """Name of the profile whose storage holds its files here, for messages (a full disk, refused credentials);
    set by :meth:`provstore.storage.StorageBackend.repository_for`, None for a repository used on its own."""

    @classmethod
    def from_config(cls: type[BackendT], config: Mapping[str, Any]) -> BackendT:
        """Build a backend from a profile's repository configuration, validated against :attr:`Configuration`.

        :raises ConfigurationError: naming the invalid fields, in one line.
        """
        from provstore.config import validate_backend_config

        return cls(**validate_backend_config(cls, dict(config)).model_dump())

    # ----------------------------------------------------------------- identity and lifecycle
    @property
    @abstractmethod
    def uuid(self) -> str | None:
        """Return the unique identifier of this repository, or None if it has none."""

    @property
    @abstractmethod
    def key_format(self) -> str | None:
        """Return the format of the keys (``"sha256"``, ``"uuid4"``); stores with equal formats share keys."""

    @abstractmethod
    def initialise(self, **kwargs: Any) -> None:
        """Initialise the repository if it is not yet; ``kwargs`` are backend-specific settings."""

    @property
    @abstractmethod
    def is_initialised(self) -> bool:
        """Return whether the repository has been initialised."""

    @abstractmethod
    def erase(self) -> None:
        """Delete the repository itself and all its contents, including the resources it created."""

    # ----------------------------------------------------------------------------- writing
    @staticmethod
    def is_readable_byte_stream(handle: object) -> bool:
        """Return whether ``handle`` is an open, readable stream of bytes (not text)."""
        if isinstance(handle, io.TextIOBase):
            return False
        if not hasattr(handle, "read"):
            return False
        readable = getattr(handle, "readable", None)
        if readable is not None:
            try:
                if not readable():
                    return False
            except ValueError:  # closed file
                return False
        mode = getattr(handle, "mode", "b")
        return not isinstance(mode, str) or "b" in mode

    def put_object_from_filelike(self, handle: BinaryIO) -> str:
        """Store the bytes read from ``handle`` and return the new object's key.

        :raises TypeError: if ``handle`` is not a readable byte stream.
        """
        if not self.is_readable_byte_stream(handle):
            raise TypeError(f"handle {handle!r} is not a readable byte stream")
        return self.write_object_stream(handle)

    @abstractmethod
    def write_object_stream(self, handle: BinaryIO) -> str:
        """Store the bytes read from ``handle`` as a new object and return its key (in :attr:`key_format`).

        The primitive behind :meth:`put_object_from_filelike` and the default
        :meth:`put_objects_from_filelikes`, which check ``handle`` first: call those, not this. Read the
        stream in chunks of :data:`CHUNK_SIZE` (never the whole object at once), and leave nothing behind
        when the write fails.
        """

    def put_object_from_file(self, filepath: str | os.PathLike[str]) -> str:
        """Store the content of the file at ``filepath`` and return the new object's key."""
        with open(filepath, "rb") as handle:
            return self.put_object_from_filelike(handle)

    def put_objects_from_filelikes(self, handles: Iterable[BinaryIO]) -> list[str]:
        """Store many objects in one call and return their keys in order.

        Keys are the same as single writes would give. Backends override this with a faster
        batch path (for example writing straight into packs); this default loops.
        """
        handles = list(handles)
        for handle in handles:
            if not self.is_readable_byte_stream(handle):
                raise TypeError(f"handle {handle!r} is not a readable byte stream")
        return [self.write_object_stream(handle) for handle in handles]

    # ----------------------------------------------------------------------------- reading
    @abstractmethod
    def has_objects(self, keys: list[str]) -> list[bool]:
        """Return, for each key in order, whether the repository has that object."""

    def has_object(self, key: str) -> bool:
        """Return whether the repository has an object with the given key."""
        return self.has_objects([key])[0]

    @abstractmethod
    def list_objects(self) -> Iterable[str]:
        """Return an iterable over the keys of all objects."""

    @abstractmethod
    def iter_object_streams(self, keys: list[str]) -> Iterator[tuple[str, BinaryIO]]:
        """Yield ``(key, stream)`` for each key; read each stream before advancing the iterator.

        :raises FileNotFoundError: if an object does not exist.
        """

    @contextlib.contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        """Open a read-only byte stream to the object stored under ``key``.

        :raises FileNotFoundError: if the object does not exist.
        """
        for _, handle in self.iter_object_streams([key]):
            yield handle
            return
        raise FileNotFoundError(f"object with key `{key}` does not exist")  # pragma: no cover

    def get_object_content(self, key: str) -> bytes:
        """Return the whole content of an object (only for objects known to be small).

        :raises FileNotFoundError: if the object does not exist.
        """
        with self.open(key) as handle:
            return handle.read()

    def get_object_hash(self, key: str) -> str:
        """Return the SHA-256 hex digest of an object's content, streamed in chunks.

        :raises FileNotFoundError: if the object does not exist.
        """
        digest = hashlib.sha256()
        with self.open(key) as handle:
            while chunk := handle.read(CHUNK_SIZE):
                digest.update(chunk)
        return digest.hexdigest()

    # ---------------------------------------------------------------------------- deleting
    @abstractmethod
    def delete_objects(self, keys: list[str]) -> None:
        """Delete the objects; if any key does not exist, raise and delete nothing.

        :raises FileNotFoundError: naming the keys that do not exist.
        """

    def delete_object(self, key: str) -> None:
        """Delete the object stored under ``key``.

        :raises FileNotFoundError: if the object does not exist.
        """
        self.delete_objects([key])

    # ------------------------------------------------------------------------ maintenance
    @abstractmethod
    def get_info(self, detailed: bool = False, **kwargs: Any) -> dict[str, Any]:
        """Return information on the configuration and content of the repository."""

    @abstractmethod
    def maintain(self, dry_run: bool = False, live: bool = True, **kwargs: Any) -> dict[str, Any]:
        """Perform maintenance and return what was done (or, with ``dry_run``, what would be done).

        With ``live=True`` only operations safe while the repository is in use are allowed.
        """

    def close(self) -> None:  # noqa: B027 (a no-op by default, not abstract: most backends hold nothing)
        """Release resources (open handles, sessions); the object must not be used afterwards."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} uuid={self.uuid!r}>"
