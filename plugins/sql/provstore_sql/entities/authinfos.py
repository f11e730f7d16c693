"""Authorisation infos (credentials of a user on a computer) in an SQL storage."""

from __future__ import annotations

from provstore.storage.entities import AuthInfo

from provstore_sql.entities.base import SqlCollection, SqlEntity
from provstore_sql.entities.computers import SqlComputer
from provstore_sql.entities.users import SqlUser
from provstore_sql.models import DbAuthInfo

__all__ = ["SqlAuthInfo", "SqlAuthInfoCollection"]


class SqlAuthInfo(SqlEntity, AuthInfo):
    """An authinfo stored in ``db_dbauthinfo``; unique per (user, computer)."""

    MODEL = DbAuthInfo
    FIELDS = {
        "user": "aiidauser_id",
        "computer": "dbcomputer_id",
        "enabled": "enabled",
        "auth_params": "auth_params",
        "metadata": "metadata_",
    }
    REFERENCES = {"user": SqlUser, "computer": SqlComputer}
    REQUIRED = ("computer",)

    def __repr__(self) -> str:  # never show auth_params: they may hold secrets
        return f"<SqlAuthInfo {f'pk={self.pk}' if self.is_stored else 'unstored'}>"


class SqlAuthInfoCollection(SqlCollection[SqlAuthInfo]):
    """The authinfos."""

    ENTITY = SqlAuthInfo
