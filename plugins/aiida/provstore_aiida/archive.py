"""``core.aiida_archive``: an aiida-core ``.aiida`` archive file read in place, as aiida-core's ``core.sqlite_zip``.

An aiida-core 2.x archive is a zip of ``metadata.json`` (with ``export_version``), ``db.sqlite3`` (aiida-core's
tables, no schema stamp) and ``repo/<sha256>`` members: the member names of provstore's own archives. The
whole zip is checked first (names, sizes: :func:`provstore.archive.format.check_members`); the database is
extracted to a private temporary file (removed on close) and opened read-only; objects are read from the zip
and verified against their sha256 as they stream. The archive file itself is never written.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from provstore.archive.format import DATABASE_MEMBER, METADATA_MEMBER, ArchiveLimits, check_members, zip_errors
from provstore.archive.repository import ZipRepository
from provstore.config import Profile
from provstore.exceptions import CorruptStorage, IncompatibleStorageSchema, UnreachableStorage
from provstore.repository.abstract import CHUNK_SIZE
from provstore_sql.dialect import SqliteDialect
from provstore_sql.migrator import SqlMigrator
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine

from provstore_aiida.backends import ReadOnlyStorage, _ReadOnlyAiidaStorage, sqlite_read_only_engine

if TYPE_CHECKING:
    from provstore.repository import AbstractRepositoryBackend

__all__ = ["ARCHIVE_VERSIONS", "AiidaArchiveStorage", "is_aiida_metadata", "read_aiida_metadata"]

ARCHIVE_VERSIONS = ("main_0001",)
"""``export_version`` values of the archives read as they are (those aiida-core 2.x writes)."""

MAX_METADATA_SIZE = 1024 * 1024


def is_aiida_metadata(metadata: Any) -> bool:
    """Return whether an archive's ``metadata.json`` content is aiida-core's (it has ``export_version``)."""
    return isinstance(metadata, dict) and "export_version" in metadata


def read_aiida_metadata(archive: zipfile.ZipFile) -> dict[str, Any]:
    """Return the ``metadata.json`` of an aiida-core archive, checked for an ``export_version`` read here.

    :raises CorruptStorage: no metadata, or not an aiida-core archive's.
    :raises IncompatibleStorageSchema: an archive version that aiida-core must migrate first.
    """
    name = Path(archive.filename or "archive").name
    try:
        info = archive.getinfo(METADATA_MEMBER)
    except KeyError:
        raise CorruptStorage(f"archive {name} has no {METADATA_MEMBER}") from None
    if info.file_size > MAX_METADATA_SIZE:
        raise CorruptStorage(f"archive {name}: {METADATA_MEMBER} is larger than {MAX_METADATA_SIZE} bytes")
    with zip_errors(name):
        raw = archive.read(METADATA_MEMBER)
    try:
        metadata = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise CorruptStorage(f"archive {name}: {METADATA_MEMBER} is not valid JSON") from None
    if not is_aiida_metadata(metadata):
        raise CorruptStorage(f"archive {name} is not an aiida-core archive (its metadata has no export_version)")
    version = metadata["export_version"]
    if version not in ARCHIVE_VERSIONS:
        raise IncompatibleStorageSchema(
            f"archive {name} has the aiida-core archive version {version}: bring it to {ARCHIVE_VERSIONS[-1]} "
            "with aiida-core 2.9 first (`verdi archive migrate`)"
        )
    if metadata.get("key_format", "sha256") != "sha256":
        raise IncompatibleStorageSchema(f"archive {name} keys its objects by {metadata['key_format']}, not sha256")
    return metadata


class AiidaArchiveDialect(SqliteDialect):
    """The database extracted from an aiida-core archive (a private copy), opened read-only."""

    backend_name = "core.aiida_archive"

    def __init__(self, database: Path, version: str | None = None) -> None:
        self.database = database
        self.version = version

    def schema_version(self, migrator: SqlMigrator) -> str | None:
        """Return the archive's ``export_version`` (its database holds no schema stamp)."""
        return self.version

    def create_engine(self, profile: Profile, create: bool = False) -> Engine:
        """Return a read-only engine on the extracted database."""
        if create:
            raise ReadOnlyStorage(f"profile {profile.name!r}: {self.backend_name} does not create archives")
        return sqlite_read_only_engine(self.database)

    def open_schema(self, migrator: SqlMigrator, repository: AbstractRepositoryBackend) -> None:
        """Nothing to check: the archive's version was checked in its metadata, and its repository is the zip."""

    def destroy_database(self, profile: Profile) -> None:
        """Refuse: an archive is never modified."""
        raise ReadOnlyStorage(f"profile {profile.name!r}: {self.backend_name} never modifies an archive")

    def maintain_database(self, engine: Engine, full: bool, dry_run: bool) -> dict[str, Any]:
        """Do nothing: an archive needs no maintenance."""
        return {}

    def database_info(self, engine: Engine, profile: Profile) -> dict[str, Any]:
        """Return the archive's path."""
        return {"dialect": "sqlite", "archive": str(_archive_path(profile)), "read_only": True}


class _NoArchiveDialect(AiidaArchiveDialect):
    """The class-level dialect, before a file is opened: says whether the archive file exists."""

    def __init__(self) -> None:
        super().__init__(Path())

    def storage_exists(self, profile: Profile) -> bool:
        return _archive_path(profile).is_file()


def _archive_path(profile: Profile) -> Path:
    return Path(AiidaArchiveStorage.validated_config(profile).filepath).expanduser().resolve()


class AiidaArchiveStorage(_ReadOnlyAiidaStorage):
    """An aiida-core ``.aiida`` archive read without importing it: query it, or transfer it into a store."""

    class Configuration(BaseModel):
        """Where the archive is."""

        model_config = ConfigDict(extra="forbid")

        filepath: str = Field(description="Path of the .aiida archive file.")
        max_total_size: int = Field(
            default=ArchiveLimits.max_total_size, gt=0, description="Refuse archives expanding to more bytes."
        )
        max_members: int = Field(
            default=ArchiveLimits.max_members, gt=0, description="Refuse archives with more members."
        )
        max_ratio: float = Field(
            default=ArchiveLimits.max_ratio, gt=0, description="Refuse members compressed more than this ratio."
        )

    default_repository_backend = None
    dialect = _NoArchiveDialect()

    @classmethod
    def version_head(cls) -> str:
        """Return the aiida-core archive version read here (``main_0001``)."""
        return ARCHIVE_VERSIONS[-1]

    @classmethod
    def version_advice(cls, profile: Profile, version: str) -> str:
        """Return the line ``provstore storage version`` prints when the archive's version is not the one read here."""
        if version in ARCHIVE_VERSIONS:
            path = _archive_path(profile)
            return f"This archive is read in place as it is; to bring it in: `provstore archive import {path}`."
        return (
            f"This archive has version {version}: bring it to {ARCHIVE_VERSIONS[-1]} with aiida-core 2.9 "
            "(`verdi archive migrate`), then `provstore archive import` it."
        )

    @classmethod
    def version_profile(cls, profile: Profile) -> str | None:
        """Return the archive's ``export_version``, or None if there is no file."""
        path = _archive_path(profile)
        if not path.is_file():
            return None
        with _open_zip(path) as archive:
            metadata = json.loads(archive.read(METADATA_MEMBER)) if METADATA_MEMBER in archive.namelist() else {}
        return metadata.get("export_version") if isinstance(metadata, dict) else None

    @classmethod
    def initialise(
        cls, profile: Profile, reset: bool = False, *, repository: AbstractRepositoryBackend | None = None
    ) -> bool:
        """Check that the profile points at a readable archive and return False (it exists already).

        :raises UnreachableStorage: there is no file; :raises IncompatibleStorageSchema: it is not readable here.
        """
        if reset:
            raise ReadOnlyStorage(f"profile {profile.name!r}: an archive is never reset")
        path = _archive_path(profile)
        if not path.is_file():
            raise UnreachableStorage(f"profile {profile.name!r}: no archive file at {path}")
        with _open_zip(path) as archive:
            read_aiida_metadata(archive)
        return False

    def __init__(self, profile: Profile, repository: AbstractRepositoryBackend | None = None) -> None:
        """Check the archive of ``profile`` whole (within the limits of its configuration), extract its database
        privately and open it read-only.

        :raises UnreachableStorage: no such file.
        :raises ValidationError: a forbidden member name or a limit exceeded (see :class:`ArchiveLimits`).
        :raises CorruptStorage: not a zip file, truncated, or not an aiida-core archive.
        :raises IncompatibleStorageSchema: an archive version that aiida-core must migrate first.
        """
        path = _archive_path(profile)
        if not path.is_file():
            raise UnreachableStorage(f"profile {profile.name!r}: no archive file at {path}")
        self._archive = _open_zip(path)
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        try:
            self.metadata = read_aiida_metadata(self._archive)
            config = self.validated_config(profile)
            check_members(self._archive, ArchiveLimits(config.max_total_size, config.max_members, config.max_ratio))
            self._folder = tempfile.TemporaryDirectory(prefix="provstore-aiida-archive-")
            database = Path(self._folder.name) / DATABASE_MEMBER
            with zip_errors(path), self._archive.open(DATABASE_MEMBER) as member, database.open("wb") as out:
                shutil.copyfileobj(member, out, CHUNK_SIZE)
            crc = self._archive.getinfo(DATABASE_MEMBER).CRC
            identity = uuid.uuid5(uuid.NAMESPACE_OID, f"aiida-archive:{crc}:{path.stat().st_size}")
            zip_repository = ZipRepository(self._archive, str(identity))
            super().__init__(
                profile,
                repository or zip_repository,
                dialect=AiidaArchiveDialect(database, self.metadata["export_version"]),
            )
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        self._archive.close()
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None

    def close(self) -> None:
        """Close the database and the zip, and remove the extracted database."""
        try:
            super().close()
        finally:
            self._release()


def _open_zip(path: Path) -> zipfile.ZipFile:
    """Open ``path`` as a zip file for reading.

    :raises CorruptStorage: it is not a zip file, or is truncated.
    """
    with zip_errors(path):
        return zipfile.ZipFile(path)
