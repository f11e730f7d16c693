"""Links between nodes in an SQL storage: the rules of ``SCHEMA.md`` checked in the database, then one insert.

Rules needing no lookup are in :func:`provstore.storage.entities.check_link`; here the
uniqueness rules are checked with indexed queries and acyclicity with a recursive CTE
(``UNION`` deduplicates, so the recursion ends even on a corrupt graph).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from provstore.exceptions import ValidationError
from provstore.storage.entities import ACYCLIC_FAMILIES, LINK_RULES, LinkTriple, LinkType, check_link

from provstore_sql.entities.base import write_transaction
from provstore_sql.models import DbLink, DbNode

if TYPE_CHECKING:
    from collections.abc import Collection

    from provstore.storage.entities import Node
    from sqlalchemy.orm import Session

    from provstore_sql.entities.nodes import SqlNode

__all__ = ["add_link", "get_links", "reaches"]


def add_link(backend: Any, source: Node, target: SqlNode, link_type: LinkType | str, label: str) -> None:
    """Write the link ``source -> target`` if it breaks no rule, else raise ValidationError and write nothing."""
    if getattr(source, "backend", backend) is not backend:
        raise ValidationError("cannot link nodes of different storages")
    link_type = check_link(source, target, link_type, label)
    with write_transaction(backend, f"link node {source.pk} to node {target.pk}") as session:
        # serialise concurrent link writes on these nodes (PostgreSQL row locks, in pk order to avoid
        # deadlocks) so that two processes cannot both pass the checks; SQLite writers are serial anyway
        session.execute(
            sa.select(DbNode.id)
            .where(DbNode.id.in_(sorted({source.pk, target.pk})))
            .order_by(DbNode.id)
            .with_for_update()
        )
        problem = _violation(session, source.pk, target.pk, link_type, label)
        if problem is not None:
            raise ValidationError(
                f"cannot add {link_type.value!r} link {label!r} from node {source.pk} to node {target.pk}: {problem}"
            )
        session.add(DbLink(input_id=source.pk, output_id=target.pk, type=link_type.value, label=label))


def _violation(session: Session, source: int, target: int, link_type: LinkType, label: str) -> str | None:
    """Return why the link may not be added, or None if it may."""
    rule = LINK_RULES[link_type]
    family = sorted(item.value for item in rule.family)
    # one indexed query: the target's incoming links of the family, and the source's same-type same-label links
    existing = session.execute(
        sa.select(DbLink.input_id, DbLink.output_id, DbLink.type, DbLink.label).where(
            sa.or_(
                sa.and_(DbLink.output_id == target, DbLink.type.in_(family)),
                sa.and_(DbLink.input_id == source, DbLink.type == link_type.value, DbLink.label == label),
            )
        )
    ).all()
    incoming = [row for row in existing if row.output_id == target and row.type in family]
    if (source, target, link_type.value, label) in existing:
        return "the link already exists"
    if rule.single_incoming and incoming:
        return f"node {target} already has an incoming {' or '.join(family)} link (at most one is allowed)"
    if rule.unique_incoming_label and any(row.label == label for row in incoming):
        return f"node {target} already has an incoming {' or '.join(family)} link labelled {label!r}"
    if rule.unique_outgoing_label and any(row.input_id == source and row.label == label for row in existing):
        return f"node {source} already has an outgoing {link_type.value!r} link labelled {label!r}"
    for acyclic in ACYCLIC_FAMILIES:
        if link_type in acyclic and reaches(session, target, source, [item.value for item in acyclic]):
            names = "/".join(sorted(item.value for item in acyclic))
            return f"it would create a cycle: node {source} is already reachable from node {target} via {names} links"
    return None


def _reachability_statement() -> sa.Select[tuple[int]]:
    """Build the recursive query behind :func:`reaches` (once; it is executed with bound parameters)."""
    start = sa.bindparam("start", type_=sa.Integer)
    reachable = sa.select(sa.cast(start, sa.Integer).label("id")).cte("reachable", recursive=True)
    step = (
        sa.select(DbLink.output_id)
        .join(reachable, DbLink.input_id == reachable.c.id)
        .where(DbLink.type.in_(sa.bindparam("link_types", expanding=True)))
    )
    reachable = reachable.union(step)
    return sa.select(reachable.c.id).where(reachable.c.id == sa.bindparam("goal", type_=sa.Integer)).limit(1)


_REACHABILITY = _reachability_statement()


def reaches(session: Session, start: int, goal: int, link_types: Collection[str]) -> bool:
    """Return whether ``goal`` is reachable from ``start`` following links of ``link_types`` forwards.

    One recursive CTE in the database (``UNION`` deduplicates, so it ends even on a cyclic graph).
    """
    parameters = {"start": start, "goal": goal, "link_types": list(link_types)}
    return session.execute(_REACHABILITY, parameters).first() is not None


def get_links(
    node: SqlNode, *, incoming: bool, link_type: LinkType | str | None, link_label: str | None
) -> list[LinkTriple]:
    """Return the links into (``incoming``) or out of ``node`` as triples naming the node at the other end."""
    if not node.is_stored:
        return []
    this, other = (DbLink.output_id, DbLink.input_id) if incoming else (DbLink.input_id, DbLink.output_id)
    statement = sa.select(DbNode, DbLink.type, DbLink.label).join(DbLink, other == DbNode.id).where(this == node.pk)
    if link_type is not None:
        try:
            statement = statement.where(DbLink.type == LinkType(link_type).value)
        except ValueError:
            raise ValidationError(f"unknown link type {link_type!r}") from None
    if link_label is not None:
        statement = statement.where(DbLink.label == link_label)
    rows = node.backend.get_session().execute(statement.order_by(DbLink.id)).all()
    return [LinkTriple(type(node)(node.backend, model), LinkType(kind), label) for model, kind, label in rows]
