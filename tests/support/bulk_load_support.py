"""Helpers of the load-mode tests: the schema as the database states it, and a spy on load-mode decisions."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from provstore_sql.bulk import load_mode

_POSTGRESQL = """
SELECT 'index', c.relname, i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema()
UNION ALL
SELECT 'constraint', c.conrelid::regclass::text, c.conname,
       concat_ws(' ', pg_get_constraintdef(c.oid), c.condeferrable, c.condeferred, c.convalidated)
FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
WHERE n.nspname = current_schema()
ORDER BY 1, 2, 3
"""


def schema_snapshot(storage: Any) -> list[tuple[Any, ...]]:
    """Return every table, index and constraint definition of the storage's database, sorted."""
    session = storage.get_session()
    if session.get_bind().dialect.name == "sqlite":
        statement = "SELECT type, tbl_name, name, sql FROM sqlite_master ORDER BY type, tbl_name, name"
    else:
        statement = _POSTGRESQL
    return [tuple(row) for row in session.execute(sa.text(statement)).all()]


def spy_bulk_load(monkeypatch: pytest.MonkeyPatch, backend_cls: type, threshold: int, chunk: int) -> list[bool | None]:
    """Lower the load-mode threshold and chunk size of the backend's dialect; return the decisions taken at each
    check of an ``exclusive_load`` call (True: load mode, False: row by row, None: the switch failed)."""
    monkeypatch.setattr(backend_cls.dialect, "bulk_load_threshold", threshold)
    monkeypatch.setattr(backend_cls.dialect, "bulk_chunk_size", chunk)
    decisions: list[bool | None] = []
    original_holds_at_most, original_begin = load_mode.BulkLoad.holds_at_most, load_mode.BulkLoad.begin.__func__

    def holds_at_most(*args: Any) -> bool:
        answer = original_holds_at_most(*args)
        decisions.append(None if answer else False)  # True once begin succeeds; None if switching fails
        return answer

    def begin(cls: type, *args: Any, **kwargs: Any) -> Any:
        load = original_begin(cls, *args, **kwargs)
        decisions[-1] = load is not None
        return load

    monkeypatch.setattr(load_mode.BulkLoad, "holds_at_most", staticmethod(holds_at_most))
    monkeypatch.setattr(load_mode.BulkLoad, "begin", classmethod(begin))
    return decisions
