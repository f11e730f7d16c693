"""Ancestors and descendants of nodes, computed in the database with a recursive common table expression.

Without a depth limit the CTE holds node ids only and is combined with ``UNION`` (not ``UNION ALL``), so a
node already reached is never expanded again and cycles (which links of the wrong types can form) end.
With ``max_depth`` it holds ``(id, depth)`` pairs and stops at that depth, which also bounds it.

On SQLite the seed tests the link type as ``+type``, which keeps the planner off the (unselective) type
index: without statistics it would rather read every link of the followed types than look the start nodes
up, and a walk would cost as much as the whole link table (a 1,000-node chain among a million links: 0.4 s).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import CTE, Integer, literal, select
from sqlalchemy.sql.expression import UnaryExpression
from sqlalchemy.sql.operators import custom_op

from provstore_sql.query.dialects import Dialect
from provstore_sql.query.joins import LINK_TABLE

__all__ = ["reachable_nodes"]


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
