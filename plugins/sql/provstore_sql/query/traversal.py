"""Ancestors and descendants of nodes, computed in the database with a recursive common table expression.

Without a depth limit the CTE holds node ids only and is combined with ``UNION`` (not ``UNION ALL``), so a
node already reached is never expanded again and cycles (which links of the wrong types can form) end.
With ``max_depth`` it holds ``(id, depth)`` pairs and stops at that depth, which also bounds it.

On SQLite the seed tests the link type as ``+type``, which keeps the planner off the (unselective) type
index: without statistics it would rather read every link of the followed types than look the start nodes
up, and a walk would cost as much as the whole link table (a 1,000-node chain among a million links: 0.4 s).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from provstore.exceptions import ValidationError
from sqlalchemy import CTE, Integer, literal, select
from sqlalchemy.sql.expression import UnaryExpression
from sqlalchemy.sql.operators import custom_op

from provstore_sql.query.dialects import Dialect
from provstore_sql.query.entities import LINK_TABLE, LINK_TYPES

__all__ = ["PROVENANCE_LINK_TYPES", "reachable_nodes"]

PROVENANCE_LINK_TYPES = ("create", "input_calc", "input_work")
"""Links of data provenance (what was made from what): the default of ancestors and descendants."""


def check_link_types(link_types: Iterable[str] | None) -> tuple[str, ...]:
    """Return the link types to follow (default: data provenance).

    :raises ValidationError: a type is not one of the schema's link types.
    """
    if link_types is None:
        return PROVENANCE_LINK_TYPES
    if isinstance(link_types, str):
        link_types = [link_types]
    chosen = tuple(link_types)
    unknown = [kind for kind in chosen if kind not in LINK_TYPES]
    if unknown or not chosen:
        raise ValidationError(f"unknown link types {unknown!r}; valid link types: {', '.join(LINK_TYPES)}")
    return chosen


def check_pks(pks: Iterable[int]) -> list[int]:
    """Return the start node pks as a list of ints.

    :raises ValidationError: ``pks`` is not an iterable of integers.
    """
    if isinstance(pks, int) and not isinstance(pks, bool):
        return [pks]
    try:
        values = list(pks)
    except TypeError:
        raise ValidationError(f"start nodes are given as an int or a list of ints, got {pks!r}") from None
    if not all(isinstance(pk, int) and not isinstance(pk, bool) for pk in values):
        raise ValidationError(f"start nodes are given as an int or a list of ints, got {values!r}")
    return values


def reachable_nodes(
    dialect: Dialect,
    pks: Sequence[int],
    upstream: bool,
    link_types: Sequence[str],
    max_depth: int | None,
) -> CTE:
    """Return a recursive CTE with column ``id``: nodes reachable from ``pks`` in one or more link steps.

    ``upstream`` walks links from output to input (ancestors); otherwise from input to output (descendants).
    """
    link = LINK_TABLE
    near, far = (link.c.output_id, link.c.input_id) if upstream else (link.c.input_id, link.c.output_id)
    typed = link.c.type.in_(list(link_types))
    starts = dialect.in_values(near, list(pks))
    kind = link.c.type
    if dialect.name == "sqlite":
        kind = UnaryExpression(kind, operator=custom_op("+"), type_=kind.type)  # a term no index serves
    seed_typed = kind.in_(list(link_types))
    if max_depth is None:
        seed = select(far.label("id")).where(seed_typed, starts)
        walk = seed.cte("walk", recursive=True)
        step = select(far).join(walk, near == walk.c.id).where(typed)
        return walk.union(step)
    seed = select(far.label("id"), literal(1, Integer).label("depth")).where(seed_typed, starts)
    walk = seed.cte("walk", recursive=True)
    step = select(far, walk.c.depth + 1).join(walk, near == walk.c.id).where(typed, walk.c.depth < max_depth)
    return walk.union(step)


def check_depth(max_depth: object) -> int | None:
    """Return the depth limit (None: unlimited).

    :raises ValidationError: it is not a positive integer.
    """
    if max_depth is None:
        return None
    if not isinstance(max_depth, int) or isinstance(max_depth, bool) or max_depth < 1:
        raise ValidationError(f"max_depth is a positive integer or None, got {max_depth!r}")
    return max_depth
