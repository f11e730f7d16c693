"""Deleting rows that this session holds, together with the held rows their ``ON DELETE CASCADE`` takes.

The database cascades deletions on its own (a node takes its comments and logs, a user its groups,
comments and authinfos, a computer its authinfos), unseen by the session. Deleting the held rows through
the session instead, children first, marks their objects deleted, so the entities wrapping them report
``is_stored`` False and refuse writes rather than passing for stored rows. The cascades are read from the
models' foreign keys, so a new one needs no code here.
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from provstore.iterables import batched

from provstore_sql.models import Base

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = ["delete_held_rows"]

LOOKUP_CHUNK_SIZE = 500
"""Ids per ``IN`` list of the statements of :func:`delete_held_rows`."""


def delete_held_rows(session: Session, model: type[Base], pks: Collection[int]) -> None:
    """Delete through ``session`` its held ``model`` rows among ``pks``, after the held rows cascading from them.

    Rows nobody holds are left to the caller's bulk DELETEs or to the database's cascades. Children are
    matched by a lookup of their foreign key (held objects may be expired); rows go in ORM-enabled DELETEs by
    id, whose ``fetch`` synchronisation marks the objects deleted (stored again if the transaction rolls back).
    """
    wanted = frozenset(pks)
    for child, column in _cascading_children(model):
        doomed: list[int] = []
        for chunk in batched(_held_ids(session, child), LOOKUP_CHUNK_SIZE):
            rows = session.execute(sa.select(child.id, column).where(child.id.in_(chunk)))  # type: ignore[attr-defined]
            doomed.extend(pk for pk, parent in rows if parent in wanted)
        if doomed:
            delete_held_rows(session, child, doomed)
    for chunk in batched([pk for pk in _held_ids(session, model) if pk in wanted], LOOKUP_CHUNK_SIZE):
        statement = sa.delete(model).where(model.id.in_(chunk))  # type: ignore[attr-defined]
        session.execute(statement, execution_options={"synchronize_session": "fetch"})


def _held_ids(session: Session, model: type[Base]) -> list[int]:
    """Return the primary keys of the ``model`` objects in the session's identity map."""
    return [state.identity[0] for state in session.identity_map.all_states() if state.class_ is model]


@functools.cache
def _cascading_children(model: type[Base]) -> tuple[tuple[type[Base], Any], ...]:
    """Return (mapped class, foreign-key column) for every foreign key to ``model`` declared ``ON DELETE CASCADE``."""
    table = model.__table__
    return tuple(
        (mapper.class_, key.parent)
        for mapper in Base.registry.mappers
        for key in mapper.local_table.foreign_keys
        if key.column.table is table and (key.ondelete or "").upper() == "CASCADE"
    )
