"""Recognise databases written by aiida-core, whose tables provstore's follow, so that they are named, not misread.

aiida-core stamps its schema in the same ``alembic_version`` table as provstore: revisions ``main_0001``,
``main_0002`` (aiida-core 2.x), ``django_0001`` to ``django_0050`` and 51 hexadecimal revisions of its
SQLAlchemy history (aiida-core 1.x); a Django-era database of aiida-core 1.x has a ``django_migrations``
table instead. Such a store is never opened as provstore's own: it is read in place by the backends of
``provstore-aiida`` and copied with ``provstore storage transfer``.
"""

from __future__ import annotations

import re
import sqlite3
import urllib.parse
from pathlib import Path

from provstore.exceptions import IncompatibleStorageSchema

__all__ = [
    "AIIDA_READABLE_REVISIONS",
    "DJANGO_TABLE",
    "aiida_store_message",
    "is_aiida_revision",
    "refuse_aiida_sqlite_file",
]

AIIDA_READABLE_REVISIONS = ("main_0001", "main_0002")
"""aiida-core schema revisions (2.x) that provstore-aiida reads as they are."""

DJANGO_TABLE = "django_migrations"
"""Table holding the schema history of aiida-core 1.x databases of the Django era."""

_NAMED_REVISION = re.compile(r"(main|django)_\d{4}[a-z]?")
_SQLALCHEMY_REVISIONS = frozenset(
    "041a79fc615f 07fac78e6209 0aebbeab274d 0edcdd5a30f0 118349c10896 12536798d4d3 140c971ae0a3 162b99bca4a2 "
    "1830c8430131 1b8ed3425af9 1de112340b16 1de112340b17 1de112340b18 1feaea71bd5a 239cea6d2452 26d561acd560 "
    "34a831f4286d 35d4ee9a1b0e 375c2db70663 37f3d4882837 3d6190594e19 535039300e4a 59edaf8a8b79 5a49629f0d45 "
    "5d4d844852b6 5ddd24e52864 61fc0913fae9 62fe0d36de90 6a5c2ea1439d 6c629c886f84 70c7d732f1b2 7536a82b2cc4 "
    "7a6587e16f4c 7b38a9e783e7 7ca08c391c49 89176227b25 91b573400be5 a514d673c163 a603da2cc809 a6048f0ffca8 "
    "b8b23ddefad4 bf591f31dd12 ce56d84bcc35 d254fdfed416 de2eaf6978b4 e15ef2630a1b e72ad251bcdb e734dd5e50d7 "
    "e797afa09270 ea2f50e7f615 f9a69de76a9a".split()
)
"""Revisions of aiida-core's SQLAlchemy migration history (aiida-core 1.x), before its ``main`` branch."""


def is_aiida_revision(version: str | None) -> bool:
    """Return whether ``version`` (an ``alembic_version`` stamp) is one of aiida-core's schema revisions."""
    return version is not None and (bool(_NAMED_REVISION.fullmatch(version)) or version in _SQLALCHEMY_REVISIONS)


def aiida_store_message(profile_name: str, version: str, backend: str) -> str:
    """Return the one line naming the profile's database as an aiida-core store, and how to bring it in.

    ``backend`` is the provstore-aiida backend that reads such a store (``core.aiida_sqlite_dos`` or
    ``core.aiida_psql_dos``).
    """
    where = f"the storage of profile {profile_name!r} is an aiida-core store (schema {version}), not a provstore one"
    howto = (
        f"to bring it in, point a profile of backend {backend} at it and run "
        "`provstore storage transfer --from <that profile> --to <a provstore profile>`"
    )
    if version not in AIIDA_READABLE_REVISIONS:
        howto = (
            f"migrate it with aiida-core 2.9 first (`verdi storage migrate`), then {howto.replace('to bring', 'bring')}"
        )
    return f"{where}: {howto}"


def refuse_aiida_sqlite_file(path: Path, profile_name: str) -> None:
    """Raise if the SQLite file ``path`` is an aiida-core store, reading it with ``mode=ro`` (nothing is created).

    Called before a backend takes its lock file or sets its journal mode; a file this cannot read
    (missing, locked, not a database) is left for the normal opening to report.

    :raises IncompatibleStorageSchema: naming the aiida-core store and how to bring it in.
    """
    try:
        connection = sqlite3.connect(f"file:{urllib.parse.quote(str(path))}?mode=ro", uri=True)
    except sqlite3.Error:
        return
    try:
        found = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "alembic_version" in found:
            versions = [row[0] for row in connection.execute("SELECT version_num FROM alembic_version")]
            version = versions[0] if len(versions) == 1 and is_aiida_revision(versions[0]) else None
        else:
            version = "django_* (aiida-core 1.x)" if DJANGO_TABLE in found else None
    except sqlite3.Error:
        return
    finally:
        connection.close()
    if version is not None:
        raise IncompatibleStorageSchema(aiida_store_message(profile_name, version, "core.aiida_sqlite_dos"))
