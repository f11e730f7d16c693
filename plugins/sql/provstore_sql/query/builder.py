"""``QueryBuilder``: select entities of a provenance graph, joined by their relationships, filtered and projected.

A query is a chain of entities; each entity after the first names how it relates to one appended before it::

    qb = storage.query()
    qb.append("node", tag="calc", filters={"node_type": {"of_type": "process.calculation"}})
    qb.append("node", tag="out", with_incoming="calc", link_filters={"type": "create"}, project="attributes.energy")
    qb.order_by({"out": [{"attributes.energy": "desc"}]}).limit(10).all()

See ``docs/querying.md`` for the filter operators and their exact semantics (identical on SQLite and PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from provstore.exceptions import MultipleObjectsError, NotExistent, ValidationError
from sqlalchemy import ColumnElement, FromClause, Select, Table, func, select

from provstore_sql.query.dialects import Dialect, dialect_for
from provstore_sql.query.entities import LINK_TABLE, entity_table, relationship
from provstore_sql.query.fields import FieldRef, parse_field
from provstore_sql.query.filters import FilterCompiler
from provstore_sql.query.traversal import check_depth, check_link_types, check_pks, reachable_nodes

__all__ = ["QueryBuilder"]

_DIRECTIONS = ("asc", "desc")


@dataclass
class _Projection:
    """One requested projection: a field (or ``*``) of a tagged entity or link, and the SQL columns it reads."""

    tag: str
    name: str
    columns: list[ColumnElement[Any]]
    decode: Callable[[list[Any]], Any]
    key: tuple[str, str, tuple[str | int, ...] | None] | None = None
    """(tag, column, path) for a single field, so that ``distinct()`` queries can order by it."""


@dataclass
class _Entity:
    """An appended entity: its alias, how it joins the query, its conditions and projections."""

    tag: str
    name: str
    table: Table
    alias: FromClause
    join: Callable[[FromClause], FromClause] | None = None
    conditions: list[ColumnElement[bool]] = field(default_factory=list)
    projections: list[_Projection] = field(default_factory=list)


class QueryBuilder:
    """Build and run a query on a SQL storage backend; every method that refines the query returns ``self``."""

    def __init__(self, backend: Any) -> None:
        """Start an empty query on ``backend``: a :class:`~provstore_sql.backend.SqlStorageBackend`.

        Only its ``connection()`` (a context manager yielding a SQLAlchemy Connection) and ``dialect_name``
        are used, so queries need no ORM.
        """
        self._backend = backend
        self._dialect: Dialect | None = None
        self._entities: list[_Entity] = []
        self._order: list[tuple[_Entity, FieldRef, str]] = []
        self._limit: int | None = None
        self._offset: int | None = None
        self._distinct = False

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

        :param tag: name of this entity in relationships, ``order_by`` and :meth:`dict` (default: the entity name).
        :param filters: conditions on this entity's fields (see ``docs/querying.md``).
        :param project: field(s) to return: column names, JSON paths such as ``attributes.a.0``, or ``*``.
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
        given = {keyword: other for keyword, other in relations.items() if other is not None}
        name, table = entity_table(entity)
        new = self._new_entity(name, table, tag)
        if self._entities and len(given) != 1:
            raise ValidationError(
                f"{new.tag!r} must name exactly one relationship to an earlier entity "
                f"({', '.join(relations)}); got {', '.join(given) or 'none'}"
            )
        if not self._entities and given:
            raise ValidationError(f"the first entity of a query cannot have a relationship; got {', '.join(given)}")
        link = None
        if given:
            ((keyword, other_tag),) = given.items()
            link = self._join(new, keyword, other_tag)
        if link is None and (link_filters is not None or link_project is not None):
            raise ValidationError("link_filters and link_project need with_incoming or with_outgoing")
        if filters is not None:
            new.conditions.append(FilterCompiler(self.dialect, table, new.name, new.alias).compile(filters))
        new.projections = self._projections(new.tag, new.name, table, new.alias, project)
        if link is not None:
            link_alias, other_tag = link
            link_tag = f"{new.tag}--{other_tag}" if keyword == "with_outgoing" else f"{other_tag}--{new.tag}"
            if link_filters is not None:
                compiler = FilterCompiler(self.dialect, LINK_TABLE, "link", link_alias)
                new.conditions.append(compiler.compile(link_filters))
            new.projections += self._projections(link_tag, "link", LINK_TABLE, link_alias, link_project)
        self._entities.append(new)
        return self

    def ancestors(
        self,
        pks: int | Iterable[int],
        *,
        link_types: Iterable[str] | None = None,
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
        link_types: Iterable[str] | None = None,
        max_depth: int | None = None,
        tag: str | None = None,
        filters: dict[str, Any] | None = None,
        project: str | list[str] | None = None,
    ) -> QueryBuilder:
        """Start the query with the nodes reachable from ``pks`` along ``link_types`` (≤ ``max_depth`` steps)."""
        return self._traverse(pks, False, link_types, max_depth, tag, filters, project)

    def order_by(self, order: dict[str, Any]) -> QueryBuilder:
        """Set the ordering: ``{tag: [field, {field: "asc"|"desc"}, ...]}`` (tags in priority order).

        Fields are columns or JSON paths; JSON values order numbers, then strings (by code point), then
        false/true, then everything else (null, missing, objects, lists). NULL columns sort last ascending.
        """
        if not isinstance(order, dict):
            raise ValidationError(f"order_by takes a dict {{tag: [fields]}}, got {type(order).__name__}")
        items: list[tuple[_Entity, FieldRef, str]] = []
        for tag, specs in order.items():
            entity = self._entity(tag)
            for spec in specs if isinstance(specs, list) else [specs]:
                pairs = spec.items() if isinstance(spec, dict) else [(spec, "asc")]
                for name, direction in pairs:
                    if direction not in _DIRECTIONS:
                        raise ValidationError(f"order direction of {name!r} must be 'asc' or 'desc', got {direction!r}")
                    items.append((entity, parse_field(entity.table, entity.name, name), direction))
        self._order = items
        return self

    def limit(self, count: int | None) -> QueryBuilder:
        """Return at most ``count`` rows (None: no limit)."""
        self._limit = _non_negative(count, "limit")
        return self

    def offset(self, count: int | None) -> QueryBuilder:
        """Skip the first ``count`` rows (None: none)."""
        self._offset = _non_negative(count, "offset")
        return self

    def distinct(self, value: bool = True) -> QueryBuilder:
        """Return each distinct row once."""
        self._distinct = bool(value)
        return self

    # ----------------------------------------------------------------------------------------- results
    def all(self, flat: bool = False) -> list[Any]:
        """Return every row as a tuple of the projected values (with ``flat=True`` and one projection: the values)."""
        statement, projections = self._statement()
        self._check_flat(flat, projections)
        with self._backend.connection() as connection:
            rows = connection.execute(statement).all()
        return [self._row(row, projections, flat) for row in rows]

    def first(self, flat: bool = False) -> Any | None:
        """Return the first row (None when there is none); ``order_by`` makes 'first' meaningful."""
        statement, projections = self._statement(limit=1)
        self._check_flat(flat, projections)
        with self._backend.connection() as connection:
            row = connection.execute(statement).first()
        return None if row is None else self._row(row, projections, flat)

    def one(self, flat: bool = False) -> Any:
        """Return the only row.

        :raises NotExistent: no row matches.
        :raises MultipleObjectsError: more than one row matches.
        """
        statement, projections = self._statement(limit=2)
        self._check_flat(flat, projections)
        with self._backend.connection() as connection:
            rows = connection.execute(statement).all()
        if not rows:
            raise NotExistent("the query matched no row")
        if len(rows) > 1:
            raise MultipleObjectsError("the query matched more than one row")
        return self._row(rows[0], projections, flat)

    def count(self) -> int:
        """Return the number of rows :meth:`all` would return."""
        statement, _ = self._statement()
        with self._backend.connection() as connection:
            return int(connection.execute(select(func.count()).select_from(statement.subquery())).scalar_one())

    def iterall(self, batch_size: int = 1000, flat: bool = False) -> Iterator[Any]:
        """Return an iterator over the rows of :meth:`all`, fetching ``batch_size`` at a time (bounded memory).

        On PostgreSQL this uses a server-side cursor; do not commit the storage's transaction while iterating.
        """
        statement, projections = self._statement()
        self._check_flat(flat, projections)
        size = _non_negative(batch_size, "batch_size") or 1
        return self._stream(statement, projections, size, flat)

    def _stream(self, statement: Select[Any], projections: list[_Projection], size: int, flat: bool) -> Iterator[Any]:
        with self._backend.connection() as connection:
            result = connection.execute(statement, execution_options={"yield_per": size})
            try:
                for row in result:
                    yield self._row(row, projections, flat)
            finally:
                result.close()

    def dict(self) -> list[dict[str, dict[str, Any]]]:
        """Return every row as ``{tag: {field: value}}`` (a ``*`` projection contributes every column)."""
        return list(self.iterdict())

    def iterdict(self, batch_size: int = 1000) -> Iterator[dict[str, dict[str, Any]]]:
        """Return an iterator over the rows of :meth:`dict`, fetching ``batch_size`` at a time."""
        _, projections = self._statement()
        return (self._as_dict(row, projections) for row in self.iterall(batch_size))

    @staticmethod
    def _as_dict(row: tuple[Any, ...], projections: list[_Projection]) -> dict[str, dict[str, Any]]:
        result: dict[str, dict[str, Any]] = {}
        for projection, value in zip(projections, row, strict=True):
            entry = result.setdefault(projection.tag, {})
            entry.update(value if projection.name == "*" else {projection.name: value})
        return result

    # ------------------------------------------------------------------------------------------ internals
    @property
    def dialect(self) -> Dialect:
        """Return the SQL dialect of the storage (found once, from its engine)."""
        if self._dialect is None:
            self._dialect = dialect_for(self._backend.dialect_name)
        return self._dialect

    def _new_entity(self, name: str, table: Table, tag: str | None) -> _Entity:
        taken = {entity.tag for entity in self._entities}
        if tag is None:
            tag = name if name not in taken else f"{name}_{len(self._entities)}"
        if not isinstance(tag, str) or not tag:
            raise ValidationError(f"tags are non-empty strings, got {tag!r}")
        if tag in taken:
            raise ValidationError(f"tag {tag!r} is already used in this query")
        return _Entity(tag, name, table, table.alias(f"e{len(self._entities)}"))

    def _entity(self, tag: object) -> _Entity:
        for entity in self._entities:
            if entity.tag == tag:
                return entity
        known = ", ".join(repr(entity.tag) for entity in self._entities) or "none yet"
        raise ValidationError(f"unknown tag {tag!r}; tags in this query: {known}")

    def _join(self, new: _Entity, keyword: str, other_tag: str) -> tuple[FromClause, str] | None:
        """Set how ``new`` joins the query; return the link alias and other tag for link relationships."""
        rel = relationship(new.name, keyword)
        other = self._entity(other_tag)
        if other.name != rel.other:
            raise ValidationError(
                f"{keyword} of a {new.name} takes the tag of a {rel.other}, {other_tag!r} is a {other.name}"
            )
        index = len(self._entities)
        if rel.via is None:
            assert rel.direct is not None
            condition = rel.direct(new.alias, other.alias)
            new.join = lambda source: source.join(new.alias, condition)
            return None
        via = rel.via.alias(f"v{index}")
        assert rel.to_via is not None and rel.from_via is not None
        to_via, from_via = rel.to_via(via, other.alias), rel.from_via(new.alias, via)
        new.join = lambda source: source.join(via, to_via).join(new.alias, from_via)
        return (via, other.tag) if rel.via is LINK_TABLE else None

    def _projections(
        self, tag: str, entity: str, table: Table, alias: FromClause, project: str | list[str] | None
    ) -> list[_Projection]:
        names = [] if project is None else [project] if isinstance(project, str) else project
        if not isinstance(names, list):
            raise ValidationError(f"project takes a field name or a list of them, got {type(project).__name__}")
        result = []
        for name in names:
            if name == "*":
                columns = [alias.c[column.name] for column in table.columns]
                keys = [column.name for column in table.columns]
                result.append(
                    _Projection(tag, "*", columns, lambda values, keys=keys: dict(zip(keys, values, strict=True)))
                )
                continue
            ref = parse_field(table, entity, name)
            column = alias.c[ref.column.name]
            if ref.path:
                expression = self.dialect.json_projection(column, ref.path)
                decode = self.dialect.decode
                result.append(
                    _Projection(tag, name, [expression], lambda v, d=decode: d(v[0]), (tag, ref.column.name, ref.path))
                )
            else:
                result.append(_Projection(tag, name, [column], _first, (tag, ref.column.name, None)))
        return result

    def _traverse(
        self,
        pks: int | Iterable[int],
        upstream: bool,
        link_types: Iterable[str] | None,
        max_depth: int | None,
        tag: str | None,
        filters: dict[str, Any] | None,
        project: str | list[str] | None,
    ) -> QueryBuilder:
        if self._entities:
            raise ValidationError("ancestors() and descendants() start a query: call them on a fresh storage.query()")
        starts, types, depth = check_pks(pks), check_link_types(link_types), check_depth(max_depth)
        self.append("node", tag=tag, filters=filters, project=project)
        walk = reachable_nodes(self.dialect, starts, upstream, types, depth)
        entity = self._entities[0]
        entity.conditions.append(entity.alias.c.id.in_(select(walk.c.id)))
        return self

    def _all_projections(self) -> list[_Projection]:
        projections = [projection for entity in self._entities for projection in entity.projections]
        if projections:
            return projections
        last = self._entities[-1]
        return self._projections(last.tag, last.name, last.table, last.alias, "*")

    def _statement(self, limit: int | None = None) -> tuple[Select[Any], list[_Projection]]:
        """Return the SELECT statement and the projections its columns belong to, in order."""
        if not self._entities:
            raise ValidationError("the query is empty: append an entity first")
        projections = self._all_projections()
        columns = [column for projection in projections for column in projection.columns]
        labelled = [column.label(f"c{index}") for index, column in enumerate(columns)]
        source = self._entities[0].alias
        for entity in self._entities[1:]:
            assert entity.join is not None
            source = entity.join(source)
        conditions = [condition for entity in self._entities for condition in entity.conditions]
        statement = select(*labelled).select_from(source).where(*conditions)
        if self._distinct:
            statement = statement.distinct()
            if self._order:
                statement = self._ordered_distinct(statement, projections)
        elif self._order:
            statement = statement.order_by(*self._order_keys())
        limit = limit if self._limit is None else self._limit if limit is None else min(limit, self._limit)
        if limit is not None:
            statement = statement.limit(limit)
        if self._offset:
            statement = statement.offset(self._offset)
        return statement, projections

    def _order_keys(self) -> list[ColumnElement[Any]]:
        keys = []
        for entity, ref, direction in self._order:
            keys += self._field_order(entity.alias.c[ref.column.name], ref, ref.path or (), direction)
        return keys

    def _field_order(
        self, column: ColumnElement[Any], ref: FieldRef, path: tuple[str | int, ...], direction: str
    ) -> list[ColumnElement[Any]]:
        if ref.is_json:
            expressions = self.dialect.json_order_keys(column, path)
            return [expression.desc() if direction == "desc" else expression.asc() for expression in expressions]
        if ref.python_type is str:
            column = self.dialect.text_order_key(column)
        return [column.desc().nulls_first() if direction == "desc" else column.asc().nulls_last()]

    def _ordered_distinct(self, statement: Select[Any], projections: list[_Projection]) -> Select[Any]:
        """Order a DISTINCT query by projected fields, from outside a subquery (ORDER BY must use its columns)."""
        labels: dict[tuple[str, str, tuple[str | int, ...] | None], str] = {}
        index = 0
        for projection in projections:
            if projection.name == "*":
                for column in projection.columns:
                    labels.setdefault((projection.tag, column.name, None), f"c{index}")
                    index += 1
                continue
            if projection.key is not None:
                labels.setdefault(projection.key, f"c{index}")
            index += len(projection.columns)
        inner = statement.subquery("d")
        keys = []
        for entity, ref, direction in self._order:
            label = labels.get((entity.tag, ref.column.name, ref.path))
            if label is None:
                raise ValidationError("with distinct(), order_by can only use projected fields")
            keys += self._field_order(inner.c[label], ref, (), direction)
        return select(*inner.c).order_by(*keys)

    @staticmethod
    def _check_flat(flat: bool, projections: list[_Projection]) -> None:
        if flat and len(projections) != 1:
            raise ValidationError(f"flat=True needs exactly one projection, the query has {len(projections)}")

    @staticmethod
    def _row(row: Any, projections: list[_Projection], flat: bool) -> Any:
        if all(projection.decode is _first for projection in projections):  # plain columns: the row as it is
            return row[0] if flat else tuple(row)
        values = []
        position = 0
        for projection in projections:
            width = len(projection.columns)
            values.append(projection.decode(list(row[position : position + width])))
            position += width
        return values[0] if flat else tuple(values)

    def __repr__(self) -> str:
        tags = ", ".join(f"{entity.tag}:{entity.name}" for entity in self._entities)
        return f"QueryBuilder({tags})"


def _first(values: list[Any]) -> Any:
    """Decode a projection that reads one column unchanged (recognised by :meth:`QueryBuilder._row`)."""
    return values[0]


def _non_negative(value: object, what: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValidationError(f"{what} is a non-negative integer or None, got {value!r}")
    return value
