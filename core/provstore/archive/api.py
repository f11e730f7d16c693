"""Create, inspect and import archives: a whole store in one portable zip file.

Creating copies the store with :func:`provstore.transfer.transfer_storage` into a fresh SQLite
database whose repository writes straight into the zip, then adds the database and ``metadata.json``;
the file appears under its name only once complete. Importing checks the whole zip first (names,
sizes, metadata), extracts only the database to a private temporary folder, and transfers from it
with ``merge`` (rows whose uuid the target has are skipped) and ``atomic`` (all rows in one transaction).
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import json
import os
import shutil
import sqlite3
import tempfile
import uuid
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from provstore.archive.format import (
    DATABASE_MEMBER,
    FORMAT_NAME,
    FORMAT_VERSION,
    METADATA_MEMBER,
    ArchiveLimits,
    check_members,
    read_metadata,
    zip_errors,
)
from provstore.archive.repository import ZipRepository
from provstore.config import Profile
from provstore.exceptions import CorruptStorage, PluginNotFound, StorageFull, ValidationError
from provstore.repository.abstract import CHUNK_SIZE
from provstore.storage.abstract import StorageBackend
from provstore.transfer import TransferReport, transfer_storage

__all__ = [
    "AIIDA_ARCHIVE_BACKEND",
    "ARCHIVE_BACKEND",
    "ARCHIVE_FORMATS",
    "create_archive",
    "import_archive",
    "inspect_archive",
    "open_archive",
]

ARCHIVE_BACKEND = "core.sqlite_archive"
"""Storage backend of an archive's database (plugin ``provstore-sqlite-dos``), given the zip as its repository."""


ARCHIVE_FORMATS = ("provstore", "aiida")
"""Formats :func:`create_archive` writes: provstore's own, and aiida-core 2.x's (``verdi archive import`` reads it)."""

AIIDA_ARCHIVE_BACKEND = "core.aiida_archive"
"""Storage backend (plugin ``provstore-aiida``) that reads aiida-core archives, which import and inspect accept."""

AIIDA_EXPORT_VERSION = "main_0001"
AIIDA_VERSION = "2.9.4"
"""The aiida-core archive version written with ``format="aiida"``, and the aiida-core release it was checked with."""


def _archive_profile(database: Path, label: str) -> tuple[Profile, type[StorageBackend]]:
    """Return the profile of the archive database ``database`` and its storage class, resolved by name.

    :raises PluginNotFound: the plugin providing :data:`ARCHIVE_BACKEND` is not installed (the message names it).
    """
    from provstore.plugins import resolve_storage_class

    config = {"filepath": str(database)}
    profile = Profile(f"archive {label}", {"storage": {"backend": ARCHIVE_BACKEND, "config": config}})
    try:
        return profile, resolve_storage_class(profile)
    except PluginNotFound:
        raise PluginNotFound(
            f"archives need the storage backend {ARCHIVE_BACKEND}, which is not installed: "
            "pip install 'provstore[sqlite]'"
        ) from None


def create_archive(
    storage: StorageBackend,
    path: str | os.PathLike[str],
    *,
    batch_size: int = 1000,
    progress: bool = False,
    format: str = "provstore",
) -> TransferReport:
    """Write everything ``storage`` holds into a new archive file at ``path`` and return the transfer report.

    ``format="aiida"`` writes an aiida-core 2.x archive (``export_version`` main_0001) that ``verdi archive
    import`` reads: the same members, aiida-core's metadata, and a database without provstore's schema stamp.

    :raises ValidationError: ``path`` exists already, or ``format`` is neither ``provstore`` nor ``aiida``.
    :raises StorageFull: the archive's disk filled up; no file is left of it.
    """
    if format not in ARCHIVE_FORMATS:
        raise ValidationError(f"unknown archive format {format!r}; choose one of {', '.join(ARCHIVE_FORMATS)}")
    from provstore import __version__

    path = Path(path)
    if path.exists():
        raise ValidationError(f"{path} exists already; choose another file name")
    if not path.parent.is_dir():
        raise ValidationError(f"cannot create {path}: folder {path.parent} does not exist")
    partial = path.with_name(f".{path.name}.partial")
    archive_uuid = str(uuid.uuid4())
    try:
        with (
            tempfile.TemporaryDirectory(prefix=".provstore-archive-", dir=path.parent) as folder,
            zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive,
        ):
            profile, archive_cls = _archive_profile(Path(folder) / DATABASE_MEMBER, path.name)
            repository = ZipRepository(archive, archive_uuid)
            archive_cls.initialise(profile, repository=repository)
            target = archive_cls(profile, repository)
            try:
                report = transfer_storage(storage, target, batch_size=batch_size, progress=progress, atomic=True)
            finally:
                target.close()
            if format == "aiida":
                _strip_provstore_stamp(Path(profile.storage_config["filepath"]))
            archive.write(profile.storage_config["filepath"], DATABASE_MEMBER)
            metadata = {
                "format": FORMAT_NAME,
                "format_version": FORMAT_VERSION,
                "provstore_version": __version__,
                "schema_version": archive_cls.version_head(),
                "created": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                "source_profile": storage.profile.name,
                "repository_uuid": archive_uuid,
                "counts": {name: counts.source for name, counts in report.entities.items()},
                "objects": report.objects.source,
            }
            if format == "aiida":
                metadata = _aiida_metadata(metadata)
            archive.writestr(METADATA_MEMBER, json.dumps(metadata, indent=2))
        if format == "aiida":
            _metadata_and_database_first(partial)
        os.replace(partial, path)
    except StorageFull as exc:  # the archive's own database, in a folder beside the archive
        raise _archive_disk_full(path, exc.needed) from None
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise _archive_disk_full(path, None) from None
    finally:
        partial.unlink(missing_ok=True)
    return report


def _archive_disk_full(path: Path, needed: int | None) -> StorageFull:
    """Return the one-line error for an archive that did not fit on its disk (nothing of it is left)."""
    more = f" (at least {needed / 2**20:.1f} MiB more)" if needed else ""
    return StorageFull(
        f"the disk of {path.parent} is full: archive {path} was not written (nothing of it is left); "
        f"free space{more} or choose another disk, and run it again",
        path=str(path.parent),
        needed=needed,
    )


def _metadata_and_database_first(path: Path) -> None:
    """Rewrite the zip at ``path`` with ``metadata.json`` and ``db.sqlite3`` as its first members.

    aiida-core reads archives as a stream and requires both among the first records; objects are written
    during the transfer, before the database is complete, so the members are copied once more in that order.
    """
    ordered = path.with_name(f"{path.name}.ordered")
    try:
        with zipfile.ZipFile(path) as source, zipfile.ZipFile(ordered, "w", allowZip64=True) as target:
            infos = sorted(source.infolist(), key=lambda info: info.filename not in (METADATA_MEMBER, DATABASE_MEMBER))
            for info in infos:
                with source.open(info) as member, target.open(info, "w", force_zip64=info.file_size >= 2**31) as out:
                    shutil.copyfileobj(member, out, CHUNK_SIZE)
        os.replace(ordered, path)
    finally:
        ordered.unlink(missing_ok=True)


def _strip_provstore_stamp(database: Path) -> None:
    """Make an archive database aiida-core's: its tables are provstore's, without the schema stamp and settings."""
    with contextlib.closing(sqlite3.connect(database)) as connection:
        connection.execute("DROP TABLE IF EXISTS alembic_version")
        connection.execute("DELETE FROM db_dbsetting")
        connection.commit()


def _aiida_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """Return aiida-core's ``metadata.json`` for an archive whose provstore metadata is ``metadata``."""
    return {
        "export_version": AIIDA_EXPORT_VERSION,
        "aiida_version": AIIDA_VERSION,
        "key_format": "sha256",
        "compression": 6,
        "ctime": metadata["created"],
        "creation_parameters": {
            "written_by": f"provstore {metadata['provstore_version']}",
            "source_profile": metadata["source_profile"],
            "include_authinfos": True,
            "include_comments": True,
            "include_logs": True,
        },
    }


def _peek_aiida_metadata(path: str | os.PathLike[str]) -> bool:
    """Return whether ``path`` is a zip whose ``metadata.json`` is aiida-core's (it has ``export_version``).

    Anything unreadable answers False: the checks of the provstore format then report it.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            if archive.getinfo(METADATA_MEMBER).file_size > 1024 * 1024:
                return False
            metadata = json.loads(archive.read(METADATA_MEMBER))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, zlib.error, EOFError):
        return False
    return isinstance(metadata, dict) and "export_version" in metadata and "format" not in metadata


@contextlib.contextmanager
def _open_aiida_archive(path: str | os.PathLike[str], limits: ArchiveLimits) -> Iterator[StorageBackend]:
    """Yield an aiida-core archive opened read-only by the storage backend :data:`AIIDA_ARCHIVE_BACKEND`.

    :raises PluginNotFound: provstore-aiida is not installed (the message says so).
    """
    from provstore.plugins import get_plugin_manager

    config = {
        "filepath": str(Path(path).resolve()),
        "max_total_size": limits.max_total_size,
        "max_members": limits.max_members,
        "max_ratio": limits.max_ratio,
    }
    profile = Profile(f"archive {Path(path).name}", {"storage": {"backend": AIIDA_ARCHIVE_BACKEND, "config": config}})
    try:
        storage_cls = get_plugin_manager().get_storage_backend(AIIDA_ARCHIVE_BACKEND)
    except PluginNotFound:
        raise PluginNotFound(
            f"{Path(path).name} is an aiida-core archive: reading it needs the storage backend "
            f"{AIIDA_ARCHIVE_BACKEND}, which is not installed: pip install provstore-aiida"
        ) from None
    storage = storage_cls(profile)
    try:
        yield storage
    finally:
        storage.close()


@contextlib.contextmanager
def _open_zip(path: str | os.PathLike[str], limits: ArchiveLimits) -> Iterator[tuple[zipfile.ZipFile, dict[str, Any]]]:
    """Yield the checked zip file and its metadata.

    :raises ValidationError: no such file, a forbidden member name, or a limit exceeded.
    :raises CorruptStorage: not a zip file, truncated, or not a provstore archive.
    """
    path = Path(path)
    if not path.is_file():
        raise ValidationError(f"no archive file at {path}")
    try:
        with zip_errors(path):
            archive = zipfile.ZipFile(path)
    except OSError as exc:
        raise ValidationError(f"cannot read archive {path}: {exc.strerror}") from None
    with archive:
        check_members(archive, limits)
        yield archive, read_metadata(archive)


@contextlib.contextmanager
def open_archive(path: str | os.PathLike[str], limits: ArchiveLimits | None = None) -> Iterator[StorageBackend]:
    """Yield the archive at ``path`` as a read-only storage (its database extracted to a temporary folder).

    :raises ValidationError: a forbidden member name (zip-slip) or a limit exceeded (zip bomb).
    :raises CorruptStorage: not a zip file, truncated, or a damaged member.
    """
    if _peek_aiida_metadata(path):
        with _open_aiida_archive(path, limits or ArchiveLimits()) as storage:
            yield storage
        return
    with (
        _open_zip(path, limits or ArchiveLimits()) as (archive, metadata),
        tempfile.TemporaryDirectory(prefix="provstore-archive-") as folder,
    ):
        database = Path(folder) / DATABASE_MEMBER
        with zip_errors(path), archive.open(DATABASE_MEMBER) as member, database.open("wb") as out:
            shutil.copyfileobj(member, out, CHUNK_SIZE)
        profile, archive_cls = _archive_profile(database, Path(path).name)
        storage = archive_cls(profile, ZipRepository(archive, str(metadata["repository_uuid"])))
        try:
            yield storage
        finally:
            storage.close()


def inspect_archive(path: str | os.PathLike[str], limits: ArchiveLimits | None = None) -> dict[str, Any]:
    """Return the archive's metadata plus its file size and member count, after checking the whole zip.

    For an aiida-core archive the metadata is aiida-core's, with ``format`` ``aiida-core`` and the ``counts``
    read from its database.
    """
    if _peek_aiida_metadata(path):
        with _open_aiida_archive(path, limits or ArchiveLimits()) as storage, zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            return {
                "format": "aiida-core",
                **storage.metadata,  # type: ignore[attr-defined]
                "counts": storage.get_info()["entities"],
                "file_size": Path(path).stat().st_size,
                "members": len(infos),
                "uncompressed_size": sum(info.file_size for info in infos),
            }
    with _open_zip(path, limits or ArchiveLimits()) as (archive, metadata):
        infos = archive.infolist()
        return {
            **metadata,
            "file_size": Path(path).stat().st_size,
            "members": len(infos),
            "uncompressed_size": sum(info.file_size for info in infos),
        }


def import_archive(
    path: str | os.PathLike[str],
    storage: StorageBackend,
    *,
    batch_size: int = 1000,
    progress: bool = False,
    limits: ArchiveLimits | None = None,
) -> TransferReport:
    """Import the archive at ``path`` into ``storage``, skipping rows whose uuid it has; return the report.

    Objects are written first (an interrupted import leaves at most unreferenced objects, removed by
    ``storage maintain --full``); all rows are written in one transaction, so a failure imports none.

    :raises ValidationError: the archive is unsafe (a forbidden name, a limit exceeded); nothing is imported.
    :raises CorruptStorage: the archive is damaged or truncated; no row is imported.
    :raises IntegrityError: an archive row conflicts with the storage's (e.g. a computer label taken).
    """
    with open_archive(path, limits) as source:
        try:
            return transfer_storage(source, storage, batch_size=batch_size, progress=progress, merge=True, atomic=True)
        except CorruptStorage as exc:
            raise CorruptStorage(f"nothing imported: {exc}") from None
