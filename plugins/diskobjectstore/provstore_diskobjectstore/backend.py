"""The ``core.diskobjectstore`` repository: a disk-objectstore container addressed by sha256 keys.

Single writes become loose files (safe from many processes at once, see :mod:`.loose`); the batch API
writes straight into packs. A container of the format pinned in :mod:`.layout` is read (:mod:`.reader`),
counted and maintained (:mod:`.packer`) directly from its files and its pack index; disk-objectstore's API
serves batch writes, deletions, listing, repacking a pack with waste, and every container of another format.
Where disk-objectstore is used, the container is a context manager so its SQLite sessions are closed when
the operation ends: an open session would keep reading an old snapshot of the pack index. Writers to packs
(batch writes, packing) are serialised between processes with an advisory lock on the container folder,
because disk-objectstore allows only one pack writer at a time.

Importing disk-objectstore costs ~60 ms (it loads SQLAlchemy's ORM for its pack index), so it is imported
only in :func:`_disk_objectstore`, when it is first needed: opening a storage, reading objects and counting
them need only the container's ``config.json`` and its files.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import importlib.util
import json
import os
import re
import shutil
import sqlite3
import urllib.parse
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, BinaryIO

import pydantic
from provstore.config import format_validation_error
from provstore.config.paths import LocalPath
from provstore.exceptions import (
    ConfigurationError,
    CorruptStorage,
    StorageFull,
    UnreachableStorage,
    ValidationError,
)
from provstore.repository.abstract import AbstractRepositoryBackend, validate_key
from provstore.text import plural
from pydantic import BaseModel, ConfigDict, Field

from provstore_diskobjectstore import packer
from provstore_diskobjectstore.layout import Layout, immutable_index_open, read_layout
from provstore_diskobjectstore.loose import write_loose_object
from provstore_diskobjectstore.progress import Progress
from provstore_diskobjectstore.reader import ContainerReader

if TYPE_CHECKING:
    from disk_objectstore import Container

if importlib.util.find_spec("disk_objectstore") is None:  # a missing dependency is reported when the class loads
    raise ModuleNotFoundError("No module named 'disk_objectstore'", name="disk_objectstore")

__all__ = ["DiskObjectStoreRepositoryBackend"]

HASH_TYPE = "sha256"
_SHA256_KEY = re.compile(r"[0-9a-f]{64}")
_NOT_LIVE = "not safe while others may use the repository (live maintenance); run full maintenance"
_REPACK_PACK_ID = -1
"""The pack id disk-objectstore gives the temporary pack a repack copies into."""
_CONFIG_FILE = "config.json"
_SUBFOLDERS = ("packs", "loose", "duplicates", "sandbox")
"""Sub-folders that, with a readable config.json, make a folder an initialised container (as in disk-objectstore)."""
_PACKING_HEADROOM = 1 << 20
"""Free bytes that packing keeps in hand beyond the size of what it packs (index pages, pack file ends)."""


def _is_disk_full(error: BaseException, folder: Path) -> bool:
    """Return whether ``error`` (OS, SQLite or SQLAlchemy error of the pack index) says the disk is full.

    SQLite reports a shared-memory index it cannot allocate as ``disk I/O error``: that counts when the
    container's ``folder`` has (almost) no space left.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:  # SQLAlchemy wraps the driver's error
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if isinstance(current, sqlite3.Error) and "database or disk is full" in str(current):
            return True
        if isinstance(current, sqlite3.Error) and "disk I/O error" in str(current):
            with contextlib.suppress(OSError):
                return shutil.disk_usage(folder).free < _PACKING_HEADROOM
        current = getattr(current, "orig", None) or current.__cause__
    return False


def _disk_objectstore() -> ModuleType:
    """Import and return the ``disk_objectstore`` module: the one place it is imported, when first needed."""
    import disk_objectstore

    return disk_objectstore


class DiskObjectStoreRepositoryBackend(AbstractRepositoryBackend):
    """Repository stored in a disk-objectstore container folder; the container id is the repository uuid."""

    class Configuration(BaseModel):
        """Settings of a disk-objectstore repository (all but ``filepath`` apply when it is initialised)."""

        model_config = ConfigDict(extra="forbid")

        filepath: LocalPath = Field(description="Folder of the disk-objectstore container (created by initialise).")
        pack_size_target: int = Field(
            default=4 * 1024**3, gt=0, description="Size in bytes at which a pack file is closed and a new one begun."
        )
        loose_prefix_len: int = Field(
            default=2, ge=0, le=8, description="Characters of the key used as sub-folder of loose objects (0: flat)."
        )
        compression: bool = Field(
            default=False, description="Compress objects (zlib) when they are written into packs, if it pays off."
        )

    def __init__(
        self,
        filepath: str | os.PathLike[str],
        pack_size_target: int = 4 * 1024**3,
        loose_prefix_len: int = 2,
        compression: bool = False,
    ) -> None:
        """Point at the container folder; nothing is created before :meth:`initialise`."""
        self._filepath = Path(filepath)
        self._pack_size_target = pack_size_target
        self._loose_prefix_len = loose_prefix_len
        self._compression = compression
        self._container: Container | None = None  # created on first use: see _disk_objectstore
        self._reader: ContainerReader | None = None  # prepared on first read: see _prepare_reader
        self._direct: bool | None = None  # whether the container's format is one read directly (layout.py)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} folder={str(self._filepath)!r} uuid={self.uuid!r}>"

    def _not_initialised(self) -> UnreachableStorage:
        """Return the error raised when the container is used before :meth:`initialise`."""
        return UnreachableStorage(
            f"the disk-objectstore container at {self._filepath} is not initialised; call initialise() first"
        )

    def _read_config(self) -> Any:
        """Return the parsed ``config.json`` of the container, or None if the folder holds no initialised container.

        Mirrors ``Container.is_initialised`` without importing disk-objectstore: ``config.json`` must be
        readable JSON and the four sub-folders must exist.
        """
        try:
            with open(self._filepath / _CONFIG_FILE, encoding="utf8") as handle:
                config = json.load(handle)
        except (ValueError, OSError):
            return None
        if not all((self._filepath / name).exists() for name in _SUBFOLDERS):
            return None
        return config

    def _container_config(self) -> dict[str, Any] | None:
        """Return the container's configuration, or None if the container is not initialised.

        :raises CorruptStorage: ``config.json`` is JSON but not a container configuration (no ``container_id``).
        """
        config = self._read_config()
        if config is not None and not (isinstance(config, dict) and isinstance(config.get("container_id"), str)):
            raise CorruptStorage(
                f"the disk-objectstore container at {self._filepath} has an invalid {_CONFIG_FILE}: no container_id"
            )
        return config

    def _checked_config(self) -> dict[str, Any]:
        """Return the configuration of an initialised sha256 container, else raise a clear error.

        (disk-objectstore itself raises ``FileNotFoundError`` for a missing index: mistakable for a missing object.)
        """
        config = self._container_config()
        if config is None:
            raise self._not_initialised()
        if config.get("hash_type") != HASH_TYPE:
            raise ConfigurationError(
                f"the container at {self._filepath} uses {config.get('hash_type')} keys; provstore needs {HASH_TYPE}"
            )
        return config

    @contextlib.contextmanager
    def _open(self) -> Iterator[Container]:
        """Yield the disk-objectstore container and close its sessions afterwards."""
        self._checked_config()
        with self.container as container:
            yield container

    def _prepare_reader(self) -> ContainerReader | None:
        """Return the direct reader of this container, prepared once; None if its format is not a pinned one.

        The configuration is read and the index checked once per open repository (until :meth:`close`).
        """
        if self._direct is None:
            layout = read_layout(self._filepath, self._checked_config())
            self._reader = ContainerReader(layout) if layout is not None else None
            self._direct = layout is not None
        return self._reader

    def _layout(self) -> Layout | None:
        """Return the layout of a container of a pinned format (None: maintain it with disk-objectstore)."""
        reader = self._prepare_reader()
        return reader.layout if reader is not None else None

    @contextlib.contextmanager
    def _pack_writer_lock(self) -> Iterator[None]:
        """Hold an exclusive advisory lock on the container folder: one pack writer at a time across processes."""
        try:
            descriptor = os.open(self._filepath, os.O_RDONLY)
        except FileNotFoundError:
            raise self._not_initialised() from None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            self._clean_after_dead_pack_writer()
            yield
        finally:
            os.close(descriptor)  # closing the descriptor releases the lock

    def _clean_after_dead_pack_writer(self) -> None:
        """Delete what a pack writer that died (SIGKILL, power loss) left behind, when it is certainly unused.

        disk-objectstore marks the pack being written with ``packs/<id>.lock`` and refuses to write to it
        while that file exists; a repack copies into the temporary pack ``packs/-1`` and refuses to start
        while it exists. Every pack writer here holds the folder lock, so with it held such files belong
        to a dead process. Lock files go; the temporary pack goes only if the index refers to none of its
        objects (the repack died while copying); left alone, either would make every later packing fail.
        """
        packs = self._filepath / "packs"
        for lock_file in packs.glob("*.lock"):
            lock_file.unlink(missing_ok=True)
        repack_file = packs / str(_REPACK_PACK_ID)
        if repack_file.exists() and not self._index_refers_to_pack(_REPACK_PACK_ID):
            repack_file.unlink()

    def _index_refers_to_pack(self, pack_id: int) -> bool:
        """Return whether any object of the container's index lives in pack ``pack_id``."""
        index = sqlite3.connect(f"file:{urllib.parse.quote(str(self._filepath / 'packs.idx'))}?mode=ro", uri=True)
        try:
            return index.execute("SELECT 1 FROM db_object WHERE pack_id = ? LIMIT 1", (pack_id,)).fetchone() is not None
        finally:
            index.close()

    # ----------------------------------------------------------------- identity and lifecycle
    @property
    def uuid(self) -> str | None:
        """Return the container id (read from its ``config.json``), or None if the container is not initialised."""
        config = self._container_config()
        return config["container_id"] if config is not None else None

    @property
    def key_format(self) -> str:
        """Return the hash type of the container (``"sha256"``)."""
        config = self._container_config()
        return str(config.get("hash_type")) if config is not None else HASH_TYPE

    @property
    def container(self) -> Container:
        """Return the underlying container, for maintenance tools that need the full disk-objectstore API."""
        if self._container is None:
            self._container = _disk_objectstore().Container(self._filepath)
        return self._container

    def initialise(self, **kwargs: Any) -> None:
        """Create the container unless it exists; ``clear=True`` deletes an existing one first.

        Other accepted settings (``pack_size_target``, ``loose_prefix_len``, ``compression``) override the
        configured ones.

        :raises ValidationError: for unknown or invalid settings.
        :raises ConfigurationError: if the folder holds other files.
        :raises UnreachableStorage: if the folder cannot be created (not a folder, no permission).
        """
        clear = bool(kwargs.pop("clear", False))
        settings = {
            "filepath": str(self._filepath),
            "pack_size_target": self._pack_size_target,
            "loose_prefix_len": self._loose_prefix_len,
            "compression": self._compression,
        }
        if unknown := set(kwargs) - (set(settings) - {"filepath"}):
            raise ValidationError(f"unknown initialisation settings: {', '.join(sorted(unknown))}")
        try:
            config = self.Configuration.model_validate({**settings, **kwargs})
        except pydantic.ValidationError as exc:
            raise ValidationError(f"invalid initialisation settings: {format_validation_error(exc)}") from None
        self._pack_size_target = config.pack_size_target
        self._loose_prefix_len = config.loose_prefix_len
        self._compression = config.compression
        if self.is_initialised and not clear:
            return
        try:
            self.container.init_container(
                clear=clear,
                pack_size_target=config.pack_size_target,
                loose_prefix_len=config.loose_prefix_len,
                hash_type=HASH_TYPE,
            )
        except FileExistsError:
            raise ConfigurationError(
                f"cannot create a disk-objectstore container in {self._filepath}: the folder is not empty"
            ) from None
        except OSError as exc:
            raise UnreachableStorage(
                f"cannot create a disk-objectstore container in {self._filepath}: {exc.strerror}"
            ) from None
        finally:
            self.close()

    @property
    def is_initialised(self) -> bool:
        """Return whether the container folder holds an initialised container."""
        return self._read_config() is not None

    def erase(self) -> None:
        """Delete the container folder and everything in it."""
        self.close()
        if self._filepath.exists():
            shutil.rmtree(self._filepath)
        self._container = None  # drop the cached configuration of the erased container

    def close(self) -> None:
        """Close the index connections, then the container's database sessions (if it was ever used).

        The read-only connections go first: the last connection to close checkpoints the index's WAL and
        removes its ``-wal``/``-shm`` files, which only disk-objectstore's read-write session can do.
        """
        if self._reader is not None:
            self._reader.close()
        if self._container is not None:
            self._container.close()
        self._reader, self._direct = None, None

    # ----------------------------------------------------------------------------- writing
    def _storage_full(self, what: str, needed: int | None = None) -> StorageFull:
        """Return the one-line error of a write that found the repository's disk full."""
        need = f" ({needed:,} bytes more needed)" if needed else ""
        owner = f"profile {self.profile_name!r}: " if self.profile_name else ""
        return StorageFull(
            f"{owner}the disk holding the repository {self._filepath} is full{need}: {what} was not done "
            "(nothing of it is kept); free some space and run it again",
            path=str(self._filepath),
            needed=needed,
        )

    @contextlib.contextmanager
    def _full_disk_is_storage_full(self, what: str) -> Iterator[None]:
        """Turn a full disk met by the block (``ENOSPC``, a full pack index) into :class:`StorageFull`."""
        try:
            yield
        except StorageFull:
            raise
        except Exception as exc:
            if _is_disk_full(exc, self._filepath):
                raise self._storage_full(what) from exc
            raise

    def write_object_stream(self, handle: BinaryIO) -> str:
        """Stream ``handle`` into a new loose object (hashed while written, fsynced) and return its sha256."""
        with self._full_disk_is_storage_full("writing the object"):
            layout = self._layout()
            if layout is None:
                with self._open() as container:
                    return write_loose_object(container.get_folder(), container.loose_prefix_len, handle)
            return write_loose_object(layout.folder, layout.loose_prefix_len, handle)

    def put_objects_from_filelikes(self, handles: Iterable[BinaryIO]) -> list[str]:
        """Write many objects straight into packs (one fsync and one index commit per pack); keys are sha256.

        Content already in the container is written again and left unreferenced (reclaimed by a repack).
        """
        handles = list(handles)
        for handle in handles:
            if not self.is_readable_byte_stream(handle):
                raise TypeError(f"handle {handle!r} is not a readable byte stream")
        if not handles:
            return []
        with (
            self._full_disk_is_storage_full(f"writing {plural(len(handles), 'object')}"),
            self._pack_writer_lock(),
            self._open() as container,
        ):
            keys = container.add_streamed_objects_to_pack(handles, compress=self._compression)
        if self._reader is not None and immutable_index_open():
            self._reader.close()  # it read the index of a full disk as immutable: let it see the new objects
        return keys

    # ----------------------------------------------------------------------------- reading
    def _partition_keys(self, keys: list[str]) -> list[str]:
        """Validate ``keys`` and return those that can name an object (sha256 hex digests)."""
        match = _SHA256_KEY.fullmatch
        return [key for key in keys if (type(key) is str and match(key)) or match(validate_key(key))]

    def has_objects(self, keys: list[str]) -> list[bool]:
        """Return, for each key in order, whether the container has that object (loose or packed)."""
        candidates = self._partition_keys(keys)
        if not candidates:
            return [False] * len(keys)
        reader = self._prepare_reader()
        if reader is not None:
            existing = reader.exists(candidates)
        else:
            with self._open() as container:
                existing = {
                    key for key, exists in zip(candidates, container.has_objects(candidates), strict=True) if exists
                }
        return [key in existing for key in keys]

    def list_objects(self) -> Iterable[str]:
        """Yield the keys of all objects, packed first, then loose.

        On a (nearly) full disk, where disk-objectstore cannot open its index, a container of a pinned format is
        listed from its files and its index read directly.
        """
        layout = self._layout()
        if layout is not None and self._free_bytes() < _PACKING_HEADROOM:
            yield from packer.list_objects(layout)
            return
        with self._full_disk_is_storage_full("listing the objects"), self._open() as container:
            yield from container.list_all_objects()

    def _free_bytes(self) -> int:
        """Return the bytes free on the container's disk (a large number if that cannot be asked)."""
        try:
            return shutil.disk_usage(self._filepath).free
        except OSError:
            return 1 << 62

    def _valid_key(self, key: str) -> str:
        """Return ``key`` if it can name an object; raise ``ValidationError`` for an unsafe key, else not found."""
        if type(key) is str and _SHA256_KEY.fullmatch(key):
            return key
        validate_key(key)
        raise FileNotFoundError(f"object with key `{key}` does not exist")

    def open(self, key: str) -> BinaryIO:  # type: ignore[override]
        """Return a read-only stream of the object (a context manager): the loose file if any, else from its pack.

        Compressed packed objects are decompressed as they are read.

        :raises FileNotFoundError: if the object does not exist.
        """
        key = self._valid_key(key)
        reader = self._reader if self._direct else self._prepare_reader()
        if reader is None:
            return super().open(key)  # type: ignore[return-value]
        return reader.open(key)

    def get_object_content(self, key: str) -> bytes:
        """Return the whole content of an object (only for objects known to be small).

        :raises FileNotFoundError: if the object does not exist.
        """
        key = self._valid_key(key)
        reader = self._reader if self._direct else self._prepare_reader()
        if reader is None:
            return super().get_object_content(key)
        return reader.content(key)

    def iter_object_streams(self, keys: list[str]) -> Iterator[tuple[str, BinaryIO]]:
        """Yield ``(key, stream)`` in storage order (pack by pack, by offset, then loose), fastest for many objects.

        Read each stream before advancing: small packed objects are served from memory, read together with
        their neighbours; large ones stream from the pack file.

        :raises FileNotFoundError: for a key that does not exist (after the existing ones were yielded).
        """
        candidates = self._partition_keys(keys)
        if len(candidates) != len(keys):
            invalid = [key for key in keys if not _SHA256_KEY.fullmatch(key)]
            raise FileNotFoundError(f"objects do not exist: {', '.join(invalid)}")
        reader = self._prepare_reader()
        if reader is not None:
            yield from reader.iter_streams(candidates)
            return
        with (
            self._open() as container,
            container.get_objects_stream_and_meta(candidates, skip_if_missing=False) as triplets,
        ):
            for key, stream, _ in triplets:
                if stream is None:
                    raise FileNotFoundError(f"objects do not exist: {key}")
                yield key, stream  # type: ignore[misc]

    def get_object_hash(self, key: str) -> str:
        """Return the SHA-256 of the content: the key itself, as the container hashes with sha256."""
        if not self.has_object(key):
            raise FileNotFoundError(f"objects do not exist: {key}")
        return key

    # ---------------------------------------------------------------------------- deleting
    def delete_objects(self, keys: list[str]) -> None:
        """Delete the objects (packed ones are soft-deleted until a repack); if any is missing, delete nothing."""
        missing = [key for key, exists in zip(keys, self.has_objects(keys), strict=True) if not exists]
        if missing:
            raise FileNotFoundError(f"objects do not exist: {', '.join(missing)}")
        with self._open() as container:
            container.delete_objects(list(dict.fromkeys(keys)))

    # ------------------------------------------------------------------------ maintenance
    def get_info(self, detailed: bool = False, **kwargs: Any) -> dict[str, Any]:
        """Return configuration and object counts; ``detailed`` adds sizes on disk and pack statistics."""
        config = self._checked_config()
        layout = self._layout()
        with contextlib.ExitStack() as stack:
            if layout is not None:
                counts, sizes = packer.count_objects(layout), packer.total_size(layout) if detailed else None
            else:
                container = stack.enter_context(self._open())
                counts, sizes = container.count_objects(), container.get_total_size() if detailed else None
        info: dict[str, Any] = {
            "backend": "core.diskobjectstore",
            "folder": str(self._filepath),
            "uuid": config["container_id"],
            "hash_type": config["hash_type"],
            "compression": self._compression,
            "compression_algorithm": config.get("compression_algorithm"),
            "pack_size_target": config.get("pack_size_target"),
            "loose_prefix_len": config.get("loose_prefix_len"),
            "objects": {"loose": counts.loose, "packed": counts.packed},
            "packs": counts.pack_files,
        }
        if sizes is not None:
            info["size_bytes"] = {
                "loose": sizes.total_size_loose,
                "packed": sizes.total_size_packed,
                "packed_on_disk": sizes.total_size_packed_on_disk,
                "packfiles_on_disk": sizes.total_size_packfiles_on_disk,
                "pack_index_on_disk": sizes.total_size_packindexes_on_disk,
            }
            info["pack_statistics"] = {
                "pack_files": counts.pack_files,
                "unreferenced_bytes": sizes.total_size_packfiles_on_disk - sizes.total_size_packed_on_disk,
                "compression_ratio": (
                    round(sizes.total_size_packed_on_disk / sizes.total_size_packed, 4)
                    if sizes.total_size_packed
                    else None
                ),
            }
        return info

    def maintain(
        self,
        dry_run: bool = False,
        live: bool = True,
        pack_loose: bool | None = None,
        do_repack: bool | None = None,
        clean_storage: bool | None = None,
        do_vacuum: bool | None = None,
        compress: bool | None = None,
        progress: bool | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Pack loose objects and, when nobody uses the repository (``live=False``), repack, clean and vacuum.

        ``None`` means the default: packing always; repack, clean-up and vacuum only when not live.
        ``compress`` (default: the configured ``compression``) compresses what gets packed when it pays off.
        ``progress`` draws a bar with counts on stderr (default: when stderr is a terminal).
        Returns ``{"dry_run", "live", "operations": {name: details with "done"}, "skipped": {name: reason}}``;
        a step with nothing to do is reported under ``skipped``.

        :raises ValidationError: if an operation unsafe while live is explicitly requested with ``live=True``.
        """
        if kwargs:
            raise ValidationError(f"unknown maintenance options: {', '.join(sorted(kwargs))}")
        unsafe = {"repack": do_repack, "clean_storage": clean_storage, "vacuum": do_vacuum}
        skipped: dict[str, str] = {}
        if live:
            if refused := [name for name, requested in unsafe.items() if requested]:
                raise ValidationError(
                    f"{', '.join(refused)} cannot run while the repository is in use; run with live=False "
                    "after stopping every process that uses it"
                )
            skipped = {name: _NOT_LIVE for name, requested in unsafe.items() if requested is None}
            do_repack = clean_storage = do_vacuum = False
        pack_loose = True if pack_loose is None else pack_loose
        do_repack = True if do_repack is None else do_repack
        clean_storage = True if clean_storage is None else clean_storage
        do_vacuum = True if do_vacuum is None else do_vacuum
        compress = self._compression if compress is None else compress
        if do_vacuum and not clean_storage:
            skipped["vacuum"] = "runs only together with clean_storage"
        steps = {"pack_loose": pack_loose, "repack": do_repack, "clean_storage": clean_storage}
        options = {"dry_run": dry_run, "compress": compress, "vacuum": do_vacuum, "progress": progress}
        with self._full_disk_is_storage_full("maintenance"), self._pack_writer_lock():
            layout = self._layout()
            self.close()  # no index connection of this process stays open while pack files and the index change
            maintain = self._maintain_directly if layout is not None else self._maintain_with_disk_objectstore
            operations = maintain(layout, steps, skipped, **options)  # type: ignore[arg-type]
        for details in operations.values():
            details["done"] = not dry_run
        return {"dry_run": dry_run, "live": live, "operations": operations, "skipped": skipped}

    def _refuse_without_room(self, size: int, what: str) -> None:
        """Raise :class:`StorageFull` before ``what`` starts if the disk cannot take ``size`` bytes (plus headroom)."""
        try:
            free = shutil.disk_usage(self._filepath).free
        except OSError:
            return
        if free < size + _PACKING_HEADROOM:
            raise self._storage_full(what, size + _PACKING_HEADROOM - free)

    def _maintain_directly(
        self,
        layout: Layout,
        steps: dict[str, bool],
        skipped: dict[str, str],
        *,
        dry_run: bool,
        compress: bool,
        vacuum: bool,
        progress: bool | None,
    ) -> dict[str, dict[str, Any]]:
        """Run the maintenance ``steps`` on a container of a pinned format (see :mod:`.packer`)."""
        operations: dict[str, dict[str, Any]] = {}
        if steps["pack_loose"]:
            keys, already_packed = packer.loose_to_pack(layout)
            if not keys:
                skipped["pack_loose"] = "nothing to pack" + (
                    f" ({already_packed:,} loose copies of packed objects wait for full maintenance)"
                    if already_packed and not steps["clean_storage"]
                    else ""
                )
            elif dry_run:
                size = sum(os.stat(layout.loose_path(key)).st_size for key in keys)
                operations["pack_loose"] = {"objects": len(keys), "bytes": size, "compress": compress}
            else:
                self._refuse_without_room(sum(os.stat(layout.loose_path(key)).st_size for key in keys), "packing")
                objects, size = packer.pack_loose(layout, keys, compress=compress, progress=progress)
                operations["pack_loose"] = {"objects": objects, "bytes": size, "compress": compress}
        if steps["repack"]:
            waste = packer.wasted_bytes(layout)
            if not waste:
                skipped["repack"] = "nothing to reclaim"
            else:
                operations["repack"] = {"packs": len(waste), "reclaimable_bytes": sum(waste.values())}
                if not dry_run:
                    with self._open() as container, Progress("repacking", len(waste), enabled=progress) as bar:
                        for pack_id in waste:
                            container.repack_pack(str(pack_id))
                            bar.advance()
        if steps["clean_storage"]:
            operations["clean_storage"] = {"vacuum": vacuum}
            if not dry_run:
                if any(not name.startswith(".") for name in os.listdir(layout.folder / "duplicates")):
                    with self._open() as container:  # rare: copies of racing writers, checked by disk-objectstore
                        container.clean_storage(vacuum=False)
                packer.clean_loose_copies(layout, progress=progress)
                if vacuum:
                    packer.vacuum(layout)
        return operations

    def _maintain_with_disk_objectstore(
        self,
        layout: None,
        steps: dict[str, bool],
        skipped: dict[str, str],
        *,
        dry_run: bool,
        compress: bool,
        vacuum: bool,
        progress: bool | None,
    ) -> dict[str, dict[str, Any]]:
        """Run the maintenance ``steps`` through disk-objectstore's API (a container of a format not pinned here)."""
        operations: dict[str, dict[str, Any]] = {}
        with self._open() as container:
            counts, sizes = container.count_objects(), container.get_total_size()
            if steps["pack_loose"] and not counts.loose:
                skipped["pack_loose"] = "nothing to pack"
            elif steps["pack_loose"]:
                operations["pack_loose"] = {
                    "objects": counts.loose,
                    "bytes": sizes.total_size_loose,
                    "compress": compress,
                }
                if not dry_run:
                    self._refuse_without_room(sizes.total_size_loose, "packing")
                    modes = _disk_objectstore().CompressMode
                    container.pack_all_loose(compress=modes.AUTO if compress else modes.NO)
            unreferenced = sizes.total_size_packfiles_on_disk - sizes.total_size_packed_on_disk
            if steps["repack"] and not unreferenced:
                skipped["repack"] = "nothing to reclaim"
            elif steps["repack"]:
                operations["repack"] = {"packs": counts.pack_files, "reclaimable_bytes": unreferenced}
                if not dry_run:
                    container.repack()
            if steps["clean_storage"]:
                operations["clean_storage"] = {"vacuum": vacuum}
                if not dry_run:
                    container.clean_storage(vacuum=vacuum)
        return operations
