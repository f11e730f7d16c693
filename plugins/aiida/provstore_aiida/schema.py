"""Read and check the schema stamp of an aiida-core database without writing anything to it."""

from __future__ import annotations

import sqlalchemy as sa
from provstore.exceptions import CorruptStorage, IncompatibleStorageSchema, UnreachableStorage
from provstore_sql import tables
from provstore_sql.foreign import AIIDA_READABLE_REVISIONS, DJANGO_TABLE, is_aiida_revision
from provstore_sql.migrator import REPOSITORY_UUID_KEY, VERSION_TABLE, SqlMigrator
from sqlalchemy import Connection

__all__ = ["DJANGO_ERA", "check_readable", "check_repository", "read_revision"]

DJANGO_ERA = "django (aiida-core 1.x)"
"""What :func:`read_revision` returns for a database of aiida-core 1.x's Django era (no alembic stamp)."""


def read_revision(connection: Connection) -> str | None:
    """Return the database's schema revision, :data:`DJANGO_ERA`, or None if it holds no schema stamp."""
    found = set(sa.inspect(connection).get_table_names())
    if VERSION_TABLE in found:
        versions = list(connection.scalars(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")))
        return versions[0] if len(versions) == 1 else None
    return DJANGO_ERA if DJANGO_TABLE in found else None


def check_readable(version: str | None, profile_name: str, own_backend: str) -> None:
    """Check that ``version`` is an aiida-core 2.x schema this plugin reads.

    :raises IncompatibleStorageSchema: in one line naming what the store is and what to do instead.
    """
    where = f"the storage of profile {profile_name!r}"
    if version in AIIDA_READABLE_REVISIONS:
        return
    if version is None:
        raise IncompatibleStorageSchema(f"{where} holds no aiida-core schema: is it an aiida-core store?")
    if version == DJANGO_ERA or is_aiida_revision(version):
        raise IncompatibleStorageSchema(
            f"{where} has the aiida-core schema {version}, older than aiida-core 2.x's: "
            "migrate it with aiida-core 2.9 first (`verdi storage migrate`)"
        )
    if version in _provstore_revisions():
        sibling = own_backend.replace("aiida_", "")
        raise IncompatibleStorageSchema(f"{where} is a provstore store (schema {version}): open it with {sibling}")
    raise IncompatibleStorageSchema(f"{where} has schema version {version}, neither aiida-core's nor provstore's")


def check_repository(connection: Connection, profile_name: str, repository_uuid: str | None) -> None:
    """Check that the repository is the one the aiida-core store records (``repository|uuid``, hex or dashed).

    :raises UnreachableStorage: the repository is missing.
    :raises CorruptStorage: the store records no repository, or another one.
    """
    where = f"the storage of profile {profile_name!r}"
    if repository_uuid is None:
        raise UnreachableStorage(f"the repository of {where} is missing or not initialised")
    setting = tables.settings
    stored = connection.scalar(sa.select(setting.c.val).where(setting.c.key == REPOSITORY_UUID_KEY))
    if stored is None:
        raise CorruptStorage(f"{where} records no repository uuid")
    if _hex(stored) != _hex(repository_uuid):
        raise CorruptStorage(
            f"{where} was created with repository {stored} but its repository is {repository_uuid}: "
            "the profile points at the wrong container"
        )


def _hex(value: object) -> str:
    return str(value).replace("-", "").lower()


def _provstore_revisions() -> set[str]:
    return set(SqlMigrator.versions())
