"""``QueryBuilder``: the public query API; it validates every call and records the query as a :class:`QuerySpec`.

A query is a chain of entities; each entity after the first names how it relates to one appended before it::

    qb = storage.query()
    qb.append("node", tag="calc", filters={"node_type": {"of_type": "process.calculation"}})
    qb.append("node", tag="out", with_incoming="calc", link_filters={"type": "create"}, project="attributes.energy")
    qb.order_by({"out": [{"attributes.energy": "desc"}]}).limit(10).all()

A storage backend subclasses :class:`QueryBuilder` and implements :meth:`~QueryBuilder.execute`,
:meth:`~QueryBuilder.execute_stream` and :meth:`~QueryBuilder.execute_count` on the already validated
:class:`QuerySpec`. See ``docs/querying.md`` for the semantics every backend must give.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from provstore.exceptions import MultipleObjectsError, NotExistent, ValidationError
from provstore.query.fields import INT64, FieldRef, JsonPath, parse_field
from provstore.query.filters import Filter, parse_filters
from provstore.query.schema import (
    LINK,
    LINK_RELATIONSHIPS,
    LINK_TYPES,
    PROVENANCE_LINK_TYPES,
    RELATIONSHIP_KEYWORDS,
    EntityKind,
    entity_kind,
    related_kind,
)

__all__ = ["EntityQuery", "OrderKey", "Projection", "QueryBuilder", "QuerySpec", "Traversal"]

_DIRECTIONS = ("asc", "desc")
_LINK_TAG_SEPARATOR = "--"


@dataclass(frozen=True)
class Projection:
    """One projected value: a field of the entity (or link) tagged ``tag``, or all its fields (``field`` None)."""

    tag: str
    entity: EntityKind
    field: FieldRef | None
    name: str
    """The projection as written (``"*"``, ``"label"``, ``"attributes.a.0"``): its key in :meth:`QueryBuilder.dict`."""

    @property
    def key(self) -> tuple[str, str, JsonPath | None] | None:
        """Return ``(tag, field, path)`` of a single-field projection (None for ``"*"``)."""
        return None if self.field is None else (self.tag, self.field.name, self.field.path)


@dataclass
class EntityQuery:
    """An appended entity: its tag and kind, how it relates to an earlier one, its filters and projections.

    ``relationship`` is ``(keyword, tag of the earlier entity)``; for ``with_incoming``/``with_outgoing``
    ``link_tag`` names the link (``"<input tag>--<output tag>"``), which has filters and projections too.
    Each list of filters must all hold.
    """

    tag: str
    kind: EntityKind
    relationship: tuple[str, str] | None = None
    filters: list[Filter] = field(default_factory=list)
    projections: list[Projection] = field(default_factory=list)
    link_tag: str | None = None
    link_filters: list[Filter] = field(default_factory=list)
    link_projections: list[Projection] = field(default_factory=list)


@dataclass(frozen=True)
class OrderKey:
    """Sort by ``field`` of the entity tagged ``tag``."""

    tag: str
    field: FieldRef
    descending: bool = False


@dataclass(frozen=True)
class Traversal:
    """The first entity is restricted to the nodes reached from ``pks`` in 1..``max_depth`` link steps.

    ``upstream``: against the links' direction (ancestors); otherwise along it (descendants).
    """

    pks: tuple[int, ...]
    upstream: bool
    link_types: tuple[str, ...]
    max_depth: int | None


@dataclass
class QuerySpec:
    """Everything a query asks for, validated: what a backend compiles and runs."""

    entities: list[EntityQuery] = field(default_factory=list)
    order: list[OrderKey] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None
    distinct: bool = False
    traversal: Traversal | None = None

    def projections(self) -> list[Projection]:
        """Return the projections in result order: each entity's own, then its link's; default ``"*"`` of the last."""
        found = [item for entity in self.entities for item in (*entity.projections, *entity.link_projections)]
        if found or not self.entities:
            return found
        last = self.entities[-1]
        return [Projection(last.tag, last.kind, None, "*")]


class QueryBuilder(ABC):
    """Build a query, then read its rows; every method that refines the query returns ``self``.

    Validation happens when a method is called: a rejected call raises :class:`ValidationError` and leaves
    the query as it was.
    """

    def __init__(self) -> None:
        """Start an empty query."""
        self._spec = QuerySpec()

    @property
    def spec(self) -> QuerySpec:
        """Return the query built so far (for backends; do not change it)."""
        return self._spec

    # ---------------------------------------------------------------------------------------- building
    def append(
        self,
        entity: str,
        *,
        tag: str | None = None,
        filters: dict[str, Any] | None = None,
        project: str | list[str] | None = None,
        with_incoming: str | None = None,
        with_outgoing: str | None = None,
        with_node: str | None = None,
        with_group: str | None = None,
        with_user: str | None = None,
        with_computer: str | None = None,
        with_comment: str | None = None,
        with_log: str | None = None,
        with_authinfo: str | None = None,
        link_filters: dict[str, Any] | None = None,
        link_project: str | list[str] | None = None,
    ) -> QueryBuilder:
        """Add ``entity`` ('node', 'user', 'group', 'computer', 'comment', 'log' or 'authinfo') to the query.

        Every entity after the first names exactly one relationship to an entity appended before, by its tag:
        ``with_incoming=T`` (nodes that ``T`` links to), ``with_outgoing=T`` (nodes linking to ``T``),
        ``with_node``, ``with_group``, ``with_user``, ``with_computer``, ``with_comment``, ``with_log``,
        ``with_authinfo``. Links of ``with_incoming``/``with_outgoing`` can be filtered and projected with
        ``link_filters``/``link_project`` (fields ``id``, ``input_id``, ``output_id``, ``label``, ``type``).

        :param tag: name of this entity in relationships, ``order_by`` and :meth:`dict` (default: the entity
            name, or ``<name>_<position>`` when that is taken).
        :param filters: conditions on this entity's fields (see ``docs/querying.md``).
        :param project: field(s) to return: field names, JSON paths such as ``attributes.a.0``, or ``*``.
        :raises ValidationError: unknown entity, tag, relationship, field or operator; bad value.
        """
        relations = {
            "with_incoming": with_incoming,
            "with_outgoing": with_outgoing,
            "with_node": with_node,
            "with_group": with_group,
            "with_user": with_user,
            "with_computer": with_computer,
            "with_comment": with_comment,
            "with_log": with_log,
            "with_authinfo": with_authinfo,
        }
        given = [(keyword, other) for keyword, other in relations.items() if other is not None]
        kind = entity_kind(entity)
        new = EntityQuery(self._new_tag(kind.name, tag), kind)
        if self._spec.entities and len(given) != 1:
            raise ValidationError(
                f"{new.tag!r} must name exactly one relationship to an earlier entity "
                f"({', '.join(RELATIONSHIP_KEYWORDS)}); got {', '.join(k for k, _ in given) or 'none'}"
            )
        if not self._spec.entities and given:
            raise ValidationError(
                f"the first entity of a query cannot have a relationship; got {', '.join(k for k, _ in given)}"
            )
        if given:
            ((keyword, other_tag),) = given
            other = self._entity(other_tag)
            wanted = related_kind(kind.name, keyword)
            if other.kind.name != wanted:
                raise ValidationError(
                    f"{keyword} of a {kind.name} takes the tag of a {wanted}, {other_tag!r} is a {other.kind.name}"
                )
            new.relationship = (keyword, other.tag)
            if keyword in LINK_RELATIONSHIPS:
                ends = (new.tag, other.tag) if keyword == "with_outgoing" else (other.tag, new.tag)
                new.link_tag = _LINK_TAG_SEPARATOR.join(ends)
        if new.link_tag is None and (link_filters is not None or link_project is not None):
            raise ValidationError("link_filters and link_project need with_incoming or with_outgoing")
        if filters is not None:
            new.filters.append(parse_filters(kind, filters))
        new.projections = _projections(new.tag, kind, project)
        if new.link_tag is not None:
            if link_filters is not None:
                new.link_filters.append(parse_filters(LINK, link_filters))
            new.link_projections = _projections(new.link_tag, LINK, link_project)
        self._spec.entities.append(new)
        return self

    def add_filter(self, tag: str, filters: dict[str, Any]) -> QueryBuilder:
        """Add ``filters`` (which must hold as well as the earlier ones) to the entity or link tagged ``tag``.

        A link's tag is ``"<input tag>--<output tag>"``, as in :meth:`dict` rows.
        """
        entity, is_link = self._target(tag)
        if is_link:
            entity.link_filters.append(parse_filters(LINK, filters))
        else:
            entity.filters.append(parse_filters(entity.kind, filters))
        return self

    def add_projection(self, tag: str, project: str | list[str]) -> QueryBuilder:
        """Project ``project`` (a field, a list of fields or ``"*"``) of the entity or link tagged ``tag`` too."""
        entity, is_link = self._target(tag)
        if is_link:
            assert entity.link_tag is not None
            entity.link_projections = [*entity.link_projections, *_projections(entity.link_tag, LINK, project)]
        else:
            entity.projections = [*entity.projections, *_projections(entity.tag, entity.kind, project)]
        return self

    def ancestors(
        self,
        pks: int | Iterable[int],
        *,
        link_types: str | Iterable[str] | None = None,
        max_depth: int | None = None,
        tag: str | None = None,
        filters: dict[str, Any] | None = None,
        project: str | list[str] | None = None,
    ) -> QueryBuilder:
        """Start the query with the nodes from which ``pks`` are reached along ``link_types`` (≤ ``max_depth`` steps).

        The default link types are those of data provenance (``create``, ``input_calc``, ``input_work``).
        Filters, projections and later relationships work as for :meth:`append`.
        """
        return self._traverse(pks, True, link_types, max_depth, tag, filters, project)

    def descendants(
        self,
        pks: int | Iterable[int],
        *,
        link_types: str | Iterable[str] | None = None,
        max_depth: int | None = None,
        tag: str | None = None,
        filters: dict[str, Any] | None = None,
        project: str | list[str] | None = None,
    ) -> QueryBuilder:
        """Start the query with the nodes reachable from ``pks`` along ``link_types`` (≤ ``max_depth`` steps)."""
        return self._traverse(pks, False, link_types, max_depth, tag, filters, project)

    def order_by(self, order: dict[str, Any]) -> QueryBuilder:
        """Set the ordering (replacing any earlier one): ``{tag: [field, {field: "asc"|"desc"}, ...]}``.

        Tags and their fields sort in the order given. JSON values order numbers, then strings (by code
        point), then false/true, then everything else (null, missing, objects, lists). NULL columns sort
        last ascending, first descending.
        """
        if not isinstance(order, dict):
            raise ValidationError(f"order_by takes a dict {{tag: [fields]}}, got {type(order).__name__}")
        keys: list[OrderKey] = []
        for tag, specs in order.items():
            entity, is_link = self._target(tag)
            kind = LINK if is_link else entity.kind
            for item in specs if isinstance(specs, list) else [specs]:
                pairs = item.items() if isinstance(item, dict) else [(item, "asc")]
                for name, direction in pairs:
                    if direction not in _DIRECTIONS:
                        raise ValidationError(f"order direction of {name!r} must be 'asc' or 'desc', got {direction!r}")
                    keys.append(OrderKey(tag, parse_field(kind, name), direction == "desc"))
        self._spec.order = keys
        return self

    def limit(self, count: int | None) -> QueryBuilder:
        """Return at most ``count`` rows (None: no limit)."""
        self._spec.limit = _non_negative(count, "limit")
        return self

    def offset(self, count: int | None) -> QueryBuilder:
        """Skip the first ``count`` rows (None: none)."""
        self._spec.offset = _non_negative(count, "offset")
        return self

    def distinct(self, value: bool = True) -> QueryBuilder:
        """Return each distinct row once."""
        self._spec.distinct = bool(value)
        return self

    # ----------------------------------------------------------------------------------------- results
    def all(self, flat: bool = False) -> list[Any]:
        """Return every row as a tuple of the projected values (with ``flat=True`` and one projection: the values)."""
        spec = self._ready(flat)
        return [row[0] if flat else row for row in self.execute(spec)]

    def first(self, flat: bool = False) -> Any | None:
        """Return the first row (None when there is none); ``order_by`` makes 'first' meaningful."""
        rows = self.execute(_capped(self._ready(flat), 1))
        return None if not rows else rows[0][0] if flat else rows[0]

    def one(self, flat: bool = False) -> Any:
        """Return the only row.

        :raises NotExistent: no row matches.
        :raises MultipleObjectsError: more than one row matches.
        """
        rows = self.execute(_capped(self._ready(flat), 2))
        if not rows:
            raise NotExistent("the query matched no row")
        if len(rows) > 1:
            raise MultipleObjectsError("the query matched more than one row")
        return rows[0][0] if flat else rows[0]

    def count(self) -> int:
        """Return the number of rows :meth:`all` would return."""
        return self.execute_count(self._ready(False))

    def iterall(self, batch_size: int = 1000, flat: bool = False) -> Iterator[Any]:
        """Return an iterator over the rows of :meth:`all`, fetching ``batch_size`` at a time (bounded memory)."""
        spec = self._ready(flat)
        rows = self.execute_stream(spec, min(_positive(batch_size, "batch_size"), _MAX_BATCH))
        return (row[0] for row in rows) if flat else rows

    def dict(self) -> list[dict[str, dict[str, Any]]]:
        """Return every row as ``{tag: {field: value}}`` (a ``*`` projection contributes every field)."""
        spec = self._ready(False)
        projections = spec.projections()
        return [_as_dict(row, projections) for row in self.execute(spec)]

    def iterdict(self, batch_size: int = 1000) -> Iterator[dict[str, dict[str, Any]]]:
        """Return an iterator over the rows of :meth:`dict`, fetching ``batch_size`` at a time."""
        spec = self._ready(False)
        projections = spec.projections()
        rows = self.execute_stream(spec, min(_positive(batch_size, "batch_size"), _MAX_BATCH))
        return (_as_dict(row, projections) for row in rows)

    # ------------------------------------------------------------------------------ for storage backends
    @abstractmethod
    def execute(self, spec: QuerySpec) -> list[tuple[Any, ...]]:
        """Run ``spec`` and return its rows: one value per projection of ``spec.projections()``, in order.

        A field's value is what the entity holds (None for an unset column, a missing path or a JSON null);
        a ``"*"`` projection's value is a dict of every field of the entity kind, in its order. ``spec`` is
        valid: it has entities, and with ``distinct`` every order key is a projected field.

        :raises QueryError: the storage could not run it (a database limit, a lost connection).
        """

    @abstractmethod
    def execute_stream(self, spec: QuerySpec, batch_size: int) -> Iterator[tuple[Any, ...]]:
        """Yield the rows of :meth:`execute`, holding about ``batch_size`` of them in memory at a time."""

    @abstractmethod
    def execute_count(self, spec: QuerySpec) -> int:
        """Return the number of rows :meth:`execute` would return (``limit`` and ``offset`` included)."""

    # ------------------------------------------------------------------------------------------ internals
    def _new_tag(self, name: str, tag: object) -> str:
        taken = {entity.tag for entity in self._spec.entities}
        if tag is None:
            tag = name if name not in taken else f"{name}_{len(self._spec.entities)}"
        if not isinstance(tag, str) or not tag:
            raise ValidationError(f"tags are non-empty strings, got {tag!r}")
        if _LINK_TAG_SEPARATOR in tag:
            raise ValidationError(f"tag {tag!r} cannot contain {_LINK_TAG_SEPARATOR!r}, which joins the tags of a link")
        if tag in taken:
            raise ValidationError(f"tag {tag!r} is already used in this query")
        return tag

    def _entity(self, tag: object) -> EntityQuery:
        for entity in self._spec.entities:
            if entity.tag == tag:
                return entity
        known = ", ".join(repr(entity.tag) for entity in self._spec.entities) or "none yet"
        raise ValidationError(f"unknown tag {tag!r}; tags in this query: {known}")

    def _target(self, tag: object) -> tuple[EntityQuery, bool]:
        """Return the entity tagged ``tag``, or the entity whose link it is, and whether it is the link."""
        for entity in self._spec.entities:
            if entity.link_tag is not None and entity.link_tag == tag:
                return entity, True
        return self._entity(tag), False

    def _traverse(
        self,
        pks: int | Iterable[int],
        upstream: bool,
        link_types: str | Iterable[str] | None,
        max_depth: int | None,
        tag: str | None,
        filters: dict[str, Any] | None,
        project: str | list[str] | None,
    ) -> QueryBuilder:
        if self._spec.entities:
            raise ValidationError("ancestors() and descendants() start a query: call them on a fresh storage.query()")
        traversal = Traversal(_check_pks(pks), upstream, _check_link_types(link_types), _check_depth(max_depth))
        self.append("node", tag=tag, filters=filters, project=project)
        self._spec.traversal = traversal
        return self

    def _ready(self, flat: bool) -> QuerySpec:
        """Return the spec to run, checking what can only be checked once the query is complete."""
        spec = self._spec
        if not spec.entities:
            raise ValidationError("the query is empty: append an entity first")
        projections = spec.projections()
        if flat and len(projections) != 1:
            raise ValidationError(f"flat=True needs exactly one projection, the query has {len(projections)}")
        if spec.distinct and spec.order:
            projected = {projection.key for projection in projections}
            projected |= {(p.tag, name, None) for p in projections if p.field is None for name in p.entity.field_names}
            for key in spec.order:
                if (key.tag, key.field.name, key.field.path) not in projected:
                    raise ValidationError(f"with distinct(), order_by can only use projected fields, not {key.field}")
        return spec

    def __repr__(self) -> str:
        tags = ", ".join(f"{entity.tag}:{entity.kind.name}" for entity in self._spec.entities)
        return f"{type(self).__name__}({tags})"


def _projections(tag: str, kind: EntityKind, project: object) -> list[Projection]:
    names = [] if project is None else [project] if isinstance(project, str) else project
    if not isinstance(names, list):
        raise ValidationError(f"project takes a field name or a list of them, got {type(project).__name__}")
    return [
        Projection(tag, kind, None, "*") if name == "*" else Projection(tag, kind, parse_field(kind, name), name)
        for name in names
    ]


def _as_dict(row: tuple[Any, ...], projections: list[Projection]) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = {}
    for projection, value in zip(projections, row, strict=True):
        entry = result.setdefault(projection.tag, {})
        entry.update(value if projection.field is None else {projection.name: value})
    return result


def _capped(spec: QuerySpec, count: int) -> QuerySpec:
    return dataclasses.replace(spec, limit=count if spec.limit is None else min(count, spec.limit))


_MAX_BATCH = 2**31 - 1
"""Batches larger than this are fetched in batches of this size (database drivers take a C ``int``)."""


def _non_negative(value: object, what: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < INT64:
        raise ValidationError(f"{what} is a non-negative integer below 2**63 or None, got {value!r}")
    return value


def _positive(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value < INT64:
        raise ValidationError(f"{what} is a positive integer below 2**63, got {value!r}")
    return value


def _check_pks(pks: object) -> tuple[int, ...]:
    if isinstance(pks, int) and not isinstance(pks, bool):
        pks = [pks]
    try:
        values = tuple(pks)  # type: ignore[call-overload]
    except TypeError:
        raise ValidationError(f"start nodes are given as an int or a list of ints, got {pks!r}") from None
    for pk in values:
        if not isinstance(pk, int) or isinstance(pk, bool) or not -INT64 <= pk < INT64:
            raise ValidationError(f"start nodes are given as an int or a list of ints (64-bit), got {pk!r}")
    return values


def _check_link_types(link_types: str | Iterable[str] | None) -> tuple[str, ...]:
    if link_types is None:
        return PROVENANCE_LINK_TYPES
    chosen = (link_types,) if isinstance(link_types, str) else tuple(link_types)
    if not chosen:
        raise ValidationError(f"link_types takes at least one link type; valid link types: {', '.join(LINK_TYPES)}")
    unknown = [kind for kind in chosen if kind not in LINK_TYPES]
    if unknown:
        raise ValidationError(f"unknown link types {unknown!r}; valid link types: {', '.join(LINK_TYPES)}")
    return chosen


def _check_depth(max_depth: object) -> int | None:
    if max_depth is None:
        return None
    if not isinstance(max_depth, int) or isinstance(max_depth, bool) or not 1 <= max_depth < INT64:
        raise ValidationError(f"max_depth is a positive integer below 2**63 or None, got {max_depth!r}")
    return max_depth
