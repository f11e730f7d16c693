"""Invariants the reliability tests check on a storage after crashes, concurrent writes or refused input."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from provstore.config import Profile
from provstore.plugins import resolve_storage_class
from provstore_sql import models


def reopen(profile: Profile) -> Any:
    """Open the profile's storage in this process from a fresh copy of the profile (as after a restart)."""
    fresh = Profile(profile.name, profile.dictionary)
    return resolve_storage_class(fresh)(fresh)


def labels(storage: Any) -> Counter[str]:
    """Return how many nodes carry each label."""
    session = storage.get_session()
    node = models.DbNode.__table__
    return Counter(dict(session.execute(sa.select(node.c.label, sa.func.count()).group_by(node.c.label)).all()))


def referenced_keys(storage: Any) -> set[str]:
    """Return every repository key that some node's file tree refers to."""
    keys: set[str] = set()
    for (tree,) in storage.get_session().execute(sa.select(models.DbNode.repository_metadata)):
        stack = [tree or {}]
        while stack:
            entry = stack.pop()
            if "k" in entry:
                keys.add(entry["k"])
            stack.extend((entry.get("o") or {}).values())
    return keys


def assert_consistent(storage: Any) -> None:
    """Assert the database passes its own integrity check and no node refers to a missing repository object."""
    session = storage.get_session()
    if session.get_bind().dialect.name == "sqlite":
        assert session.execute(sa.text("PRAGMA integrity_check")).scalar() == "ok"
        assert session.execute(sa.text("PRAGMA foreign_key_check")).all() == []
    keys = sorted(referenced_keys(storage))
    present = storage.get_repository().has_objects(keys)
    missing = [key for key, exists in zip(keys, present, strict=True) if not exists]
    assert missing == [], f"nodes refer to {len(missing)} missing repository objects"


def folder_digest(folder: Path) -> dict[str, str]:
    """Return relative path -> sha256 of every file under ``folder`` (to prove that nothing was modified)."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.name.endswith((".lock", "-shm"))
    }


def database_dump(profile: Profile) -> dict[str, list[str]]:
    """Return every row of every table of the profile's database, read through a new engine (sorted reprs)."""
    engine = resolve_storage_class(profile).dialect.create_engine(profile)
    try:
        with engine.connect() as connection:
            names = sa.inspect(connection).get_table_names()
            return {
                name: sorted(map(repr, connection.execute(sa.text(f'SELECT * FROM "{name}"')).all())) for name in names
            }
    finally:
        engine.dispose()


def storage_dump(storage: Any) -> tuple[dict[str, list[str]], list[str]]:
    """Return every row of every table (sorted reprs) and every repository key, through the open storage."""
    session = storage.get_session()
    rows = {
        table.name: sorted(map(repr, session.execute(sa.select(table)).all()))
        for table in models.Base.metadata.sorted_tables
    }
    session.commit()
    return rows, sorted(storage.get_repository().list_objects())
