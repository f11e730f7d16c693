"""The ``core.sandbox`` repository: objects are files in a temporary folder that disappears with the backend.

Meant for throw-away storages (tests, ``core.sqlite_temp``). Objects are written to a temporary file first
and renamed into place only when complete, so a failed write never leaves a partial object; nothing is
fsynced because the whole folder is deleted when the backend is erased or garbage-collected anyway.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid
import weakref
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, Literal

from provstore.config.paths import LocalPath
from provstore.exceptions import UnreachableStorage, ValidationError
from provstore.repository.abstract import CHUNK_SIZE, AbstractRepositoryBackend, validate_key
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SandboxRepositoryBackend"]

KeyFormat = Literal["uuid4", "sha256"]
KEY_FORMATS: tuple[str, ...] = ("uuid4", "sha256")


class SandboxRepositoryBackend(AbstractRepositoryBackend):
    """Repository in a temporary folder, removed on :meth:`erase` or when the backend is garbage-collected."""

    class Configuration(BaseModel):
        """Settings of a sandbox repository."""

        model_config = ConfigDict(extra="forbid")

        filepath: LocalPath | None = Field(
            default=None,
            description="Folder in which the temporary sandbox folder is created (default: the system temp folder).",
        )
        key_format: KeyFormat = Field(
            default="uuid4",
            description="Object keys: 'uuid4' (random) or 'sha256' (content hash: identical content stored once, "
            "keys equal to those of core.diskobjectstore).",
        )

    def __init__(self, filepath: str | os.PathLike[str] | None = None, key_format: KeyFormat = "uuid4") -> None:
        """Describe the sandbox; its folder is created by :meth:`initialise` or by the first write."""
        if key_format not in KEY_FORMATS:
            raise ValidationError(f"unknown key_format {key_format!r}; choose one of {', '.join(KEY_FORMATS)}")
        self._parent = Path(filepath) if filepath is not None else None
        self._key_format: str = key_format
        self._folder: Path | None = None
        self._finalizer: weakref.finalize | None = None

    def __repr__(self) -> str:
        folder = str(self._folder) if self._folder else None
        return f"<{type(self).__name__} folder={folder!r} key_format={self._key_format!r}>"

    # ----------------------------------------------------------------- identity and lifecycle
    @property
    def uuid(self) -> str | None:
        """A sandbox has no identity: always None."""
        return None

    @property
    def key_format(self) -> str:
        """Return ``"uuid4"`` or ``"sha256"`` as configured."""
        return self._key_format

    @property
    def folder(self) -> Path | None:
        """Return the sandbox folder, or None while it is not created."""
        return self._folder

    def initialise(self, **kwargs: Any) -> None:
        """Create the temporary folder if it does not exist yet; a sandbox takes no settings."""
        if kwargs:
            raise ValidationError(f"a sandbox repository takes no initialisation settings, got {sorted(kwargs)}")
        self._ensure_folder()

    @property
    def is_initialised(self) -> bool:
        """Return whether the temporary folder exists."""
        return self._folder is not None and self._folder.is_dir()

    def erase(self) -> None:
        """Delete the temporary folder and everything in it; a later write starts a new, empty one."""
        if self._finalizer is not None:
            self._finalizer()
        self._folder = None
        self._finalizer = None

    def _ensure_folder(self) -> Path:
        """Return the sandbox folder, creating it (and its removal on garbage collection) on first use."""
        if self.is_initialised:
            assert self._folder is not None
            return self._folder
        try:
            if self._parent is not None:
                self._parent.mkdir(parents=True, exist_ok=True)
            folder = Path(tempfile.mkdtemp(prefix="provstore-sandbox-", dir=self._parent))
        except OSError as exc:
            raise UnreachableStorage(f"cannot create a sandbox folder in {self._parent}: {exc.strerror}") from None
        (folder / "objects").mkdir()
        (folder / "incoming").mkdir()
        self._folder = folder
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(folder), ignore_errors=True)
        return folder

    def _object_path(self, key: str) -> Path | None:
        """Return where the object ``key`` would live (after validating the key), or None without a folder."""
        validate_key(key)
        return self._folder / "objects" / key if self._folder is not None else None

    # ----------------------------------------------------------------------------- writing
    def write_object_stream(self, handle: BinaryIO) -> str:
        """Stream ``handle`` into a temporary file (hashing on the way for sha256 keys), then rename it into place."""
        folder = self._ensure_folder()
        digest = hashlib.sha256() if self._key_format == "sha256" else None
        descriptor, temporary = tempfile.mkstemp(dir=folder / "incoming")
        try:
            with os.fdopen(descriptor, "wb") as out:
                while chunk := handle.read(CHUNK_SIZE):
                    if digest is not None:
                        digest.update(chunk)
                    out.write(chunk)
            key = digest.hexdigest() if digest is not None else uuid.uuid4().hex
            target = folder / "objects" / key
            if digest is not None and target.exists():
                os.unlink(temporary)  # identical content is already stored
            else:
                os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return key

    # ----------------------------------------------------------------------------- reading
    def has_objects(self, keys: list[str]) -> list[bool]:
        """Return, for each key in order, whether an object file exists under that key."""
        return [path is not None and path.is_file() for path in map(self._object_path, keys)]

    def list_objects(self) -> Iterable[str]:
        """Return the keys of all objects."""
        return os.listdir(self._folder / "objects") if self.is_initialised else []

    def iter_object_streams(self, keys: list[str]) -> Iterator[tuple[str, BinaryIO]]:
        """Yield ``(key, stream)`` in the order given; all keys are checked before the first is yielded.

        :raises FileNotFoundError: naming the keys that do not exist.
        """
        self._raise_if_missing(keys)
        for key in keys:
            with open(self._folder / "objects" / key, "rb") as handle:  # type: ignore[operator]
                yield key, handle

    def get_object_hash(self, key: str) -> str:
        """Return the SHA-256 of the content: the key itself for sha256 keys, else computed by streaming."""
        if self._key_format == "sha256":
            self._raise_if_missing([key])
            return key
        return super().get_object_hash(key)

    # ---------------------------------------------------------------------------- deleting
    def delete_objects(self, keys: list[str]) -> None:
        """Delete the objects; if any key does not exist, delete nothing and raise naming the missing ones."""
        self._raise_if_missing(keys)
        for key in dict.fromkeys(keys):
            os.unlink(self._folder / "objects" / key)  # type: ignore[operator]

    def _raise_if_missing(self, keys: list[str]) -> None:
        """Validate ``keys`` and raise :class:`FileNotFoundError` naming those that do not exist."""
        missing = [key for key, exists in zip(keys, self.has_objects(keys), strict=True) if not exists]
        if missing:
            raise FileNotFoundError(f"objects do not exist: {', '.join(missing)}")

    # ------------------------------------------------------------------------ maintenance
    def get_info(self, detailed: bool = False, **kwargs: Any) -> dict[str, Any]:
        """Return the folder, key format and object count; ``detailed`` adds the total size in bytes."""
        keys = list(self.list_objects())
        info: dict[str, Any] = {
            "backend": "core.sandbox",
            "folder": str(self._folder) if self._folder else None,
            "key_format": self._key_format,
            "objects": len(keys),
        }
        if detailed:
            objects = self._folder / "objects" if self._folder else None
            info["size_bytes"] = sum(os.stat(objects / key).st_size for key in keys) if objects else 0
        return info

    def maintain(self, dry_run: bool = False, live: bool = True, **kwargs: Any) -> dict[str, Any]:
        """Nothing to maintain in a sandbox (no packs, no index); report that no operation was needed."""
        if kwargs:
            raise ValidationError(f"a sandbox repository has no maintenance options, got {sorted(kwargs)}")
        return {"dry_run": dry_run, "live": live, "operations": {}, "skipped": {}}
