"""The repository of an archive: objects are zip members ``repo/<sha256>``, verified against their name when read."""

from __future__ import annotations

import datetime
import hashlib
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import BaseModel

from provstore.archive.format import OBJECT_PREFIX, object_member, zip_errors
from provstore.exceptions import CorruptStorage, ValidationError
from provstore.repository.abstract import CHUNK_SIZE, AbstractRepositoryBackend, validate_key
from provstore.transfer.objects import hash_stream

__all__ = ["ZipRepository"]

ZIP64_LIMIT = zipfile.ZIP64_LIMIT


class _VerifiedStream:
    """A read-only stream over a zip member that raises :class:`CorruptStorage` at its end if the sha256 differs."""

    def __init__(self, raw: BinaryIO, key: str, archive_name: str) -> None:
        self._raw = raw
        self._key = key
        self._archive_name = archive_name
        self._digest = hashlib.sha256()
        self._checked = False
        self.mode = "rb"

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        with zip_errors(self._archive_name):
            data = self._raw.read(size)
        self._digest.update(data)
        if not data or size is None or size < 0:
            self._check()
        return data

    def _check(self) -> None:
        if not self._checked and self._digest.hexdigest() != self._key:
            raise CorruptStorage(f"archive {self._archive_name}: object {self._key} does not match its sha256")
        self._checked = True


class ZipRepository(AbstractRepositoryBackend):
    """Objects of an archive keyed by sha256: readable from an archive opened for reading, writable when creating it.

    Objects cannot be deleted: an archive is written once.
    """

    class Configuration(BaseModel):
        """An archive repository is built in code around an open zip file; it has no settings."""

    def __init__(self, archive: zipfile.ZipFile, uuid: str) -> None:
        """Serve the objects of ``archive`` (a ``zipfile.ZipFile``) as the repository identified by ``uuid``."""
        self._archive = archive
        self._uuid = uuid
        self._name = Path(archive.filename or "archive").name
        self._keys = {name[len(OBJECT_PREFIX) :] for name in archive.namelist() if name.startswith(OBJECT_PREFIX)}

    @property
    def uuid(self) -> str:
        """Return the archive's identifier (recorded in its ``metadata.json`` and database)."""
        return self._uuid

    @property
    def key_format(self) -> str:
        """Return ``"sha256"``: members are named by the hash of their content."""
        return "sha256"

    def initialise(self, **kwargs: Any) -> None:
        """Do nothing: the zip file exists already."""

    @property
    def is_initialised(self) -> bool:
        """Return True: the repository is the open zip file."""
        return True

    def erase(self) -> None:
        """Refuse: an archive's objects cannot be erased."""
        raise ValidationError("the objects of an archive cannot be erased")

    def write_object_stream(self, handle: BinaryIO) -> str:
        """Add the content as member ``repo/<sha256>`` (once per content) and return the sha256."""
        with tempfile.SpooledTemporaryFile(max_size=CHUNK_SIZE) as spool:
            key, size = hash_stream(handle, spool.write)
            if key in self._keys:
                return key
            spool.seek(0)
            info = zipfile.ZipInfo(object_member(key), date_time=datetime.datetime.now().timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            with self._archive.open(info, "w", force_zip64=size >= ZIP64_LIMIT) as member:
                while chunk := spool.read(CHUNK_SIZE):
                    member.write(chunk)
        self._keys.add(key)
        return key

    def has_objects(self, keys: list[str]) -> list[bool]:
        """Return, for each key in order, whether the archive holds that object."""
        return [key in self._keys for key in keys]

    def list_objects(self) -> Iterable[str]:
        """Return the sha256 of every object, sorted."""
        return sorted(self._keys)

    def iter_object_streams(self, keys: list[str]) -> Iterator[tuple[str, BinaryIO]]:
        """Yield ``(key, stream)``; a stream read to its end raises :class:`CorruptStorage` if its sha256 differs.

        :raises FileNotFoundError: if the archive lacks an object.
        """
        for key in keys:
            if validate_key(key) not in self._keys:
                raise FileNotFoundError(f"object with key `{key}` does not exist in archive {self._name}")
            with zip_errors(self._name), self._archive.open(object_member(key)) as raw:
                yield key, _VerifiedStream(raw, key, self._name)  # type: ignore[misc]

    def delete_objects(self, keys: list[str]) -> None:
        """Refuse: an archive is written once."""
        raise ValidationError("objects cannot be deleted from an archive")

    def get_info(self, detailed: bool = False, **kwargs: Any) -> dict[str, Any]:
        """Return the archive's file name and object count."""
        return {"archive": self._name, "objects": len(self._keys)}

    def maintain(self, dry_run: bool = False, live: bool = True, **kwargs: Any) -> dict[str, Any]:
        """Do nothing: an archive needs no maintenance."""
        return {}
