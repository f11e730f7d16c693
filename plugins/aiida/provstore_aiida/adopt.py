"""``provstore storage adopt``: turn an aiida-core 2.9 ``core.sqlite_dos`` folder into a provstore store in place.

The folder layout is the same (``database.sqlite`` beside a sha256 disk-objectstore ``container``), so the
container stays as it is and only the database changes: a new database with provstore's schema at head is
built beside the old one, every row copied with its primary key, checked (row counts, foreign keys, the
schema validated as provstore validates it on open), and only then moved into place in one rename; aiida-core's
database is kept as ``database.sqlite.aiida``. Any failure before the rename leaves the folder as it was.
It refuses while another process has the database open (found through ``/proc``) or holds a lock on it.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from provstore.exceptions import IncompatibleStorageSchema, LockedProfileError, StorageError
from provstore.text import plural
from provstore_sql import tables
from provstore_sql.engine import JSON_ENGINE_KWARGS
from provstore_sql.migrator import REPOSITORY_UUID_KEY, SqlMigrator
from sqlalchemy import create_engine

from provstore_aiida.schema import read_revision

__all__ = ["ADOPTABLE_REVISION", "AdoptionPlan", "adopt_sqlite_dos"]

ADOPTABLE_REVISION = "main_0002"
"""The aiida-core schema revision that can be adopted (aiida-core 2.9)."""

DATABASE = "database.sqlite"
KEPT = "database.sqlite.aiida"
PARTIAL = ".database.sqlite.adopting"


@dataclass
class AdoptionPlan:
    """What adopting a folder changes (``changes``, one line each) and the rows it copies per table."""

    folder: Path
    changes: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)


def _users_of(path: Path) -> list[int]:
    """Return the ids of the other processes that have ``path`` open (Linux ``/proc``; empty elsewhere)."""
    target = str(path.resolve())
    users = []
    for proc in Path("/proc").glob("[0-9]*"):
        if int(proc.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if any(os.readlink(fd) == target for fd in (proc / "fd").iterdir()):
                users.append(int(proc.name))
    return users


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{urllib.parse.quote(str(path))}?mode=ro", uri=True)


def plan_adoption(folder: Path) -> AdoptionPlan:
    """Check that ``folder`` can be adopted and return what adopting it would change; writes nothing.

    :raises IncompatibleStorageSchema: not an aiida-core 2.9 sqlite_dos folder.
    :raises LockedProfileError: another process uses the database.
    """
    folder = folder.expanduser().resolve()
    database = folder / DATABASE
    if not database.is_file():
        raise IncompatibleStorageSchema(f"no aiida-core database at {database}")
    engine = create_engine(f"sqlite:///file:{urllib.parse.quote(str(database))}?mode=ro&uri=true")
    try:
        with engine.connect() as connection:
            version = read_revision(connection)
    finally:
        engine.dispose()
    if version != ADOPTABLE_REVISION:
        raise IncompatibleStorageSchema(
            f"{database} has schema {version}, not aiida-core 2.9's {ADOPTABLE_REVISION}: "
            "only that can be adopted (migrate it with `verdi storage migrate` first, or copy it with storage transfer)"
        )
    if (folder / KEPT).exists():
        raise IncompatibleStorageSchema(f"{folder / KEPT} exists already: move it away first")
    users = _users_of(database)
    if users:
        raise LockedProfileError(
            f"{database} is open in process(es) {', '.join(map(str, users))}: stop aiida-core there first"
        )
    config = folder / "container" / "config.json"
    if not config.is_file() or json.loads(config.read_text()).get("hash_type") != "sha256":
        raise IncompatibleStorageSchema(f"{folder} holds no sha256 disk-objectstore container")
    plan = AdoptionPlan(folder)
    with contextlib.closing(_read_only(database)) as old:
        found = {row[0] for row in old.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        for table in tables.metadata.sorted_tables:
            if table.name not in found:
                raise IncompatibleStorageSchema(f"{database} lacks the table {table.name}")
            columns = {row[1] for row in old.execute(f'PRAGMA table_info("{table.name}")')}
            extra = columns - set(table.columns.keys())
            if extra:
                raise IncompatibleStorageSchema(
                    f"{database}: {table.name} has columns provstore lacks: {sorted(extra)}"
                )
            plan.rows[table.name] = old.execute(f'SELECT count(*) FROM "{table.name}"').fetchone()[0]
        journal = old.execute("PRAGMA journal_mode").fetchone()[0]
    head = SqlMigrator.version_head()
    plan.changes = [
        f"schema: aiida-core {version} -> provstore {head} (indexes and constraints of provstore's schema)",
        "rows: every row copied with its primary key ("
        + ", ".join(f"{name} {count}" for name, count in plan.rows.items())
        + ")",
        f"journal mode: {journal} -> wal",
        "container: kept as it is (sha256 disk-objectstore, same repository uuid)",
        f"aiida-core's database kept as {KEPT}",
    ]
    return plan


def adopt_sqlite_dos(folder: Path, *, dry_run: bool = False) -> AdoptionPlan:
    """Adopt the aiida-core sqlite_dos ``folder`` as a provstore ``core.sqlite_dos`` store (see the module text).

    :raises IncompatibleStorageSchema: not an aiida-core 2.9 sqlite_dos folder.
    :raises LockedProfileError: another process uses the database.
    :raises StorageError: the copy could not be verified; the folder is left as it was.
    """
    plan = plan_adoption(folder)
    if dry_run:
        return plan
    database, partial = plan.folder / DATABASE, plan.folder / PARTIAL
    repository_uuid = json.loads((plan.folder / "container" / "config.json").read_text())["container_id"]
    partial.unlink(missing_ok=True)
    try:
        engine = create_engine(f"sqlite:///{partial}", **JSON_ENGINE_KWARGS)
        try:
            with SqlMigrator.connect(engine, str(plan.folder)) as migrator:
                migrator.initialise(repository_uuid)
        finally:
            engine.dispose()
        with contextlib.closing(sqlite3.connect(partial, isolation_level=None)) as new:
            new.execute("PRAGMA foreign_keys = OFF")  # checked as a whole below
            new.execute("ATTACH DATABASE ? AS aiida", (f"file:{urllib.parse.quote(str(database))}?mode=ro",))
            new.execute("BEGIN IMMEDIATE")
            for table in tables.metadata.sorted_tables:
                columns = ", ".join(f'"{name}"' for name in table.columns.keys())
                where = f" WHERE key != '{REPOSITORY_UUID_KEY}'" if table is tables.settings else ""
                new.execute(
                    f'INSERT INTO main."{table.name}" ({columns}) SELECT {columns} FROM aiida."{table.name}"{where}'
                )
            new.execute("COMMIT")
            new.execute("DETACH DATABASE aiida")
            problems = new.execute("PRAGMA foreign_key_check").fetchall()
            if problems:
                raise StorageError(
                    f"adopting {plan.folder} failed: {plural(len(problems), 'dangling reference')}; nothing changed"
                )
            for table in tables.metadata.sorted_tables:
                count = new.execute(f'SELECT count(*) FROM "{table.name}"').fetchone()[0]
                expected = plan.rows[table.name]  # settings: aiida-core's repository|uuid row is written anew
                if count != expected:
                    raise StorageError(
                        f"adopting {plan.folder} failed: {table.name} has {plural(count, 'row')}, not {expected}; "
                        "nothing changed"
                    )
            new.execute("PRAGMA journal_mode = WAL")
        engine = create_engine(f"sqlite:///{partial}", **JSON_ENGINE_KWARGS)
        try:
            with SqlMigrator.connect(engine, str(plan.folder)) as migrator:
                migrator.validate(repository_uuid)
        finally:
            engine.dispose()
        if _users_of(database):
            raise LockedProfileError(f"{database} was opened by another process meanwhile; nothing changed")
        os.link(database, plan.folder / KEPT)
        try:
            os.replace(partial, database)
        except BaseException:
            (plan.folder / KEPT).unlink()
            raise
    except BaseException:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{partial}{suffix}").unlink(missing_ok=True)
        raise
    return plan
