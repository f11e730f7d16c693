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
import json
import os
import shutil
import tempfile
import uuid
import zipfile
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
from provstore.exceptions import CorruptStorage, PluginNotFound, ValidationError
from provstore.repository.abstract import CHUNK_SIZE
from provstore.storage.abstract import StorageBackend
from provstore.transfer import TransferReport, transfer_storage

__all__ = ["ARCHIVE_BACKEND", "create_archive", "import_archive", "inspect_archive", "open_archive"]

ARCHIVE_BACKEND = "core.sqlite_archive"
"""Storage backend of an archive's database (plugin ``provstore-sqlite-dos``), given the zip as its repository."""


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
    storage: StorageBackend, path: str | os.PathLike[str], *, batch_size: int = 1000, progress: bool = False
) -> TransferReport:
    """Write everything ``storage`` holds into a new archive file at ``path`` and return the transfer report.

    :raises ValidationError: ``path`` exists already.
    """
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
            archive.writestr(METADATA_MEMBER, json.dumps(metadata, indent=2))
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return report


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
    """Return the archive's metadata plus its file size and member count, after checking the whole zip."""
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
