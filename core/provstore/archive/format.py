"""The archive file format and the checks every archive passes before anything is read from it.

An archive is a zip file holding ``metadata.json`` (format version, provstore version, counts,
creation time), ``db.sqlite3`` (an SQLite database with the provstore schema) and one member
``repo/<sha256>`` per repository object. Reading refuses any other member name (no path can escape
an extraction folder: zip-slip), duplicate or overlapping members, and sizes beyond
:class:`ArchiveLimits` (zip bombs), before a single byte is extracted.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provstore.exceptions import CorruptStorage, ValidationError

__all__ = [
    "DATABASE_MEMBER",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "METADATA_MEMBER",
    "OBJECT_PREFIX",
    "ArchiveLimits",
    "check_members",
    "object_member",
    "read_metadata",
    "zip_errors",
]

FORMAT_NAME = "provstore-archive"
FORMAT_VERSION = 1
METADATA_MEMBER = "metadata.json"
DATABASE_MEMBER = "db.sqlite3"
OBJECT_PREFIX = "repo/"
MAX_METADATA_SIZE = 1024 * 1024
RATIO_MIN_SIZE = 1024 * 1024
"""Members smaller than this are not subject to the compression-ratio limit (tiny files have noisy ratios)."""

_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
"""Compression methods an archive may use: bzip2 and lzma could expand a small member without bound."""
_OBJECT_NAME = re.compile(r"repo/[0-9a-f]{64}")
_REQUIRED_METADATA = ("format", "format_version", "provstore_version", "created", "repository_uuid", "counts")


@dataclass(frozen=True)
class ArchiveLimits:
    """Bounds an archive must respect to be read; raise them for archives you trust that exceed them."""

    max_total_size: int = 100 * 1024**3
    """Total uncompressed bytes of all members."""
    max_members: int = 10_000_000
    """Number of members."""
    max_ratio: float = 1100.0
    """Uncompressed / compressed size of any member larger than 1 MiB.

    Members must be stored or deflated, and deflate cannot exceed about 1032:1, so the default only
    guards the arithmetic; lower it to refuse highly compressed members of untrusted archives.
    """


def object_member(key: str) -> str:
    """Return the member name of the object whose sha256 is ``key``."""
    return f"{OBJECT_PREFIX}{key}"


@contextlib.contextmanager
def zip_errors(path: str | Path) -> Iterator[None]:
    """Turn the errors of reading a damaged zip file into one :class:`CorruptStorage` line."""
    try:
        yield
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise CorruptStorage(f"archive {Path(path).name} is damaged or truncated: {exc}") from None


def check_members(archive: zipfile.ZipFile, limits: ArchiveLimits) -> list[zipfile.ZipInfo]:
    """Validate every member's name and the archive's sizes; return the members.

    :raises ValidationError: a member name is not one of the format's (zip-slip), or a limit is exceeded.
    :raises CorruptStorage: members are duplicated or overlap, or a mandatory member is missing.
    """
    name = Path(archive.filename or "archive").name
    infos = archive.infolist()
    if len(infos) > limits.max_members:
        raise ValidationError(f"archive {name} has {len(infos)} members, more than the limit of {limits.max_members}")
    seen: set[str] = set()
    total = 0
    for info in infos:
        member = info.filename
        if member not in (METADATA_MEMBER, DATABASE_MEMBER) and not _OBJECT_NAME.fullmatch(member):
            raise ValidationError(f"archive {name} holds a member with a forbidden name: {member[:100]!r}")
        if member in seen:
            raise CorruptStorage(f"archive {name} holds member {member!r} twice")
        seen.add(member)
        if info.compress_type not in _METHODS:
            raise ValidationError(f"archive {name}: member {member} uses compression method {info.compress_type}")
        total += info.file_size
        if info.file_size > RATIO_MIN_SIZE and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise ValidationError(
                f"archive {name}: member {member} expands {info.file_size // max(info.compress_size, 1)} times, "
                f"more than the limit of {limits.max_ratio:g} (a zip bomb?)"
            )
    if total > limits.max_total_size:
        raise ValidationError(
            f"archive {name} expands to {total} bytes, more than the limit of {limits.max_total_size} bytes"
        )
    ordered = sorted(infos, key=lambda info: info.header_offset)
    for current, following in itertools.pairwise(ordered):
        if current.header_offset + current.compress_size > following.header_offset:
            raise CorruptStorage(f"archive {name}: members {current.filename} and {following.filename} overlap")
    for required in (METADATA_MEMBER, DATABASE_MEMBER):
        if required not in seen:
            raise CorruptStorage(f"archive {name} is incomplete: it has no {required}")
    return infos


def read_metadata(archive: zipfile.ZipFile) -> dict[str, Any]:
    """Return the archive's ``metadata.json``, checked for the fields and format version this code reads.

    :raises CorruptStorage: the metadata is not a JSON object with the expected fields.
    :raises ValidationError: the format version is not one this code reads.
    """
    name = Path(archive.filename or "archive").name
    info = archive.getinfo(METADATA_MEMBER)
    if info.file_size > MAX_METADATA_SIZE:
        raise ValidationError(f"archive {name}: {METADATA_MEMBER} is larger than {MAX_METADATA_SIZE} bytes")
    with zip_errors(name):
        raw = archive.read(METADATA_MEMBER)
    try:
        metadata = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise CorruptStorage(f"archive {name}: {METADATA_MEMBER} is not valid JSON") from None
    if not isinstance(metadata, dict) or any(key not in metadata for key in _REQUIRED_METADATA):
        raise CorruptStorage(f"archive {name}: {METADATA_MEMBER} lacks fields of {', '.join(_REQUIRED_METADATA)}")
    if metadata["format"] != FORMAT_NAME:
        raise CorruptStorage(f"archive {name} is not a provstore archive (format {metadata['format']!r})")
    if metadata["format_version"] != FORMAT_VERSION:
        raise ValidationError(
            f"archive {name} has format version {metadata['format_version']!r}; this provstore reads {FORMAT_VERSION}"
        )
    return metadata
