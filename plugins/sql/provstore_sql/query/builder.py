"""``SqlQueryBuilder``: the core's :class:`~provstore.query.QueryBuilder` compiled to one SQL statement.

The core validates every call and records a :class:`~provstore.query.QuerySpec`; this module turns it into a
SELECT (joins, conditions, projections, ordering, paging) when rows are asked for, and runs it. Errors the
database raises reach the user as one-line :class:`~provstore.exceptions.QueryError`, and a stored value that
cannot be read as its column's type (a corrupt row) as one-line :class:`~provstore.exceptions.CorruptStorage`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from provstore.exceptions import CorruptStorage, QueryError
from provstore.query import EntityQuery, Projection, QueryBuilder, QuerySpec
from provstore.query.fields import FieldRef, JsonPath
from sqlalchemy import ColumnElement, FromClause, Select, Table, func, select
from sqlalchemy.exc import SQLAlchemyError

from provstore_sql.query.dialects import Dialect, dialect_for
from provstore_sql.query.filters import FilterCompiler
from provstore_sql.query.joins import JOINS, TABLES
from provstore_sql.query.traversal import reachable_nodes

__all__ = ["SqlQueryBuilder"]


@dataclass
class _Columns:
    """The SQL columns of one projection and how to turn their fetched values into the projected value."""

    projection: Projection
    columns: list[ColumnElement[Any]]
    decode: Callable[[list[Any]], Any]


class SqlQueryBuilder(QueryBuilder):
    """The query builder of the SQL storage backends."""

    def __init__(self, backend: Any) -> None:
        """Start an empty query on ``backend``: a :class:`~provstore_sql.backend.SqlStorageBackend`.

        Only its ``connection()`` (a context manager yielding a SQLAlchemy Connection) and ``dialect_name``
        are used, so queries need no ORM.
        """
        super().__init__()
        self._backend = backend
        self._dialect: Dialect | None = None

    @property
    def dialect(self) -> Dialect:
        """Return the SQL dialect of the storage (found once, from its engine)."""
        if self._dialect is None:
            self._dialect = dialect_for(self._backend.dialect_name)
        return self._dialect

    # ----------------------------------------------------------------------------------------- running
    def execute(self, spec: QuerySpec) -> list[tuple[Any, ...]]:
        """Run ``spec`` and return its rows."""
        statement, columns = _Statement(self.dialect, spec).build()
        with self._database_errors(), self._backend.connection() as connection:
            rows = connection.execute(statement).all()
        return [_decode(row, columns) for row in rows]

    def execute_stream(self, spec: QuerySpec, batch_size: int) -> Iterator[tuple[Any, ...]]:
        """Yield the rows of ``spec``, ``batch_size`` fetched at a time (a server-side cursor on PostgreSQL).

        On PostgreSQL, do not commit the storage's transaction while iterating.
        """
        statement, columns = _Statement(self.dialect, spec).build()
        return self._stream(statement, columns, batch_size)

    def execute_count(self, spec: QuerySpec) -> int:
        """Return the number of rows of ``spec``."""
        statement = _Statement(self.dialect, spec).count()
        with self._database_errors(), self._backend.connection() as connection:
            return int(connection.execute(statement).scalar_one())

    def _stream(self, statement: Select[Any], columns: list[_Columns], size: int) -> Iterator[tuple[Any, ...]]:
        with self._database_errors(), self._backend.connection() as connection:
            result = connection.execute(statement, execution_options={"yield_per": size})
            try:
                for row in result:
                    yield _decode(row, columns)
            finally:
                result.close()

    def _statement(self) -> tuple[Select[Any], list[Projection]]:
        """Return the SELECT statement of the query as it stands, and its projections (benchmarks, plans)."""
        statement, columns = _Statement(self.dialect, self._ready(False)).build()
        return statement, [item.projection for item in columns]

    def _count_statement(self) -> Select[Any]:
        """Return the statement :meth:`count` runs on the query as it stands (benchmarks, plans)."""
        return _Statement(self.dialect, self._ready(False)).count()

    @contextmanager
    def _database_errors(self) -> Iterator[None]:
        """Turn an error of the database into a one-line :class:`QueryError` (the original is its cause)."""
        try:
            yield
        except SQLAlchemyError as error:
            reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
            raise QueryError(f"the {self.dialect.name} database could not run the query: {reason}") from error
        except ValueError as error:  # a stored value its column's type cannot read (SQLite keeps any value)
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            profile = getattr(getattr(self._backend, "profile", None), "name", None)
            where = f"the storage of profile {profile!r}" if profile else f"the {self.dialect.name} database"
            raise CorruptStorage(
                f"{where} holds a value that cannot be read ({reason}): fix or delete that row"
            ) from error


@functools.cache
def _alias(table: Table, name: str) -> FromClause:
    """Return the alias ``name`` of ``table``, made once: its column collection costs more than compiling a count.

    Statements never change an alias, so every query shares one per table and name (built here, columns and all,
    before any thread sees it).
    """
    alias = table.alias(name)
    alias.c  # noqa: B018 - the column collection is built on first access
    return alias


class _Statement:
    """The SQL of one :class:`QuerySpec`: aliases of every entity and link, joins, conditions and columns."""

    def __init__(self, dialect: Dialect, spec: QuerySpec) -> None:
        self.dialect = dialect
        self.spec = spec
        self.aliases: dict[str, FromClause] = {}
        self.source: FromClause | None = None
        self.conditions: list[ColumnElement[bool]] = []
        for index, entity in enumerate(spec.entities):
            self._add(index, entity)

    def _add(self, index: int, entity: EntityQuery) -> None:
        alias = _alias(TABLES[entity.kind.name], f"e{index}")
        self.aliases[entity.tag] = alias
        if entity.relationship is None:
            self.source = alias
        else:
            keyword, other_tag = entity.relationship
            join = JOINS[(entity.kind.name, keyword)]
            other = self.aliases[other_tag]
            assert self.source is not None
            if join.via is None:
                assert join.direct is not None
                self.source = self.source.join(alias, join.direct(alias, other))
            else:
                assert join.to_via is not None and join.from_via is not None
                via = _alias(join.via, f"v{index}")
                self.source = self.source.join(via, join.to_via(via, other)).join(alias, join.from_via(alias, via))
                if entity.link_tag is not None:
                    self.aliases[entity.link_tag] = via
        compiler = FilterCompiler(self.dialect, alias)
        self.conditions += [compiler.compile(tree) for tree in entity.filters]
        if entity.link_tag is not None and entity.link_filters:
            link_compiler = FilterCompiler(self.dialect, self.aliases[entity.link_tag])
            self.conditions += [link_compiler.compile(tree) for tree in entity.link_filters]
        if index == 0 and self.spec.traversal is not None:
            walk = self.spec.traversal
            reached = reachable_nodes(self.dialect, walk.pks, walk.upstream, walk.link_types, walk.max_depth)
            self.conditions.append(alias.c.id.in_(select(reached.c.id)))

    def build(self) -> tuple[Select[Any], list[_Columns]]:
        """Return the SELECT and the columns of each projection, in order."""
        columns = [self._columns(projection) for projection in self.spec.projections()]
        flat = [column for item in columns for column in item.columns]
        labelled = [column.label(f"c{index}") for index, column in enumerate(flat)]
        statement = select(*labelled).select_from(self.source).where(*self.conditions)
        if self.spec.distinct:
            statement = statement.distinct()
            if self.spec.order:
                statement = self._ordered_distinct(statement, columns)
        elif self.spec.order:
            keys = []
            for key in self.spec.order:
                column = self.aliases[key.tag].c[key.field.name]
                keys += self._order_keys(column, key.field, key.field.path or (), key.descending)
            statement = statement.order_by(*keys)
        if self.spec.limit is not None:
            statement = statement.limit(self.spec.limit)
        if self.spec.offset:
            statement = statement.offset(self.spec.offset)
        return statement, columns

    def count(self) -> Select[Any]:
        """Return the SELECT counting the rows of :meth:`build`'s.

        Without distinct, limit or offset, that is ``count(*)`` over the joins and conditions themselves: no
        subquery, no projected columns, no ordering (which changes no count).
        """
        if self.spec.distinct or self.spec.limit is not None or self.spec.offset:
            statement, _ = self.build()
            return select(func.count()).select_from(statement.subquery())
        return select(func.count()).select_from(self.source).where(*self.conditions)

    def _columns(self, projection: Projection) -> _Columns:
        alias = self.aliases[projection.tag]
        if projection.field is None:
            names = projection.entity.field_names
            return _Columns(projection, [alias.c[name] for name in names], lambda v: dict(zip(names, v, strict=True)))
        column = alias.c[projection.field.name]
        if projection.field.path:
            decode = self.dialect.decode
            expression = self.dialect.json_projection(column, projection.field.path)
            return _Columns(projection, [expression], lambda values: decode(values[0]))
        return _Columns(projection, [column], _first)

    def _order_keys(
        self, column: ColumnElement[Any], field: FieldRef, path: JsonPath, descending: bool
    ) -> list[ColumnElement[Any]]:
        if field.is_json:
            expressions = self.dialect.json_order_keys(column, path)
            return [expression.desc() if descending else expression.asc() for expression in expressions]
        if field.kind.python_type is str:
            column = self.dialect.text_order_key(column)
        return [column.desc().nulls_first() if descending else column.asc().nulls_last()]

    def _ordered_distinct(self, statement: Select[Any], columns: list[_Columns]) -> Select[Any]:
        """Order a DISTINCT query by projected fields, from outside a subquery (ORDER BY must use its columns)."""
        labels: dict[tuple[str, str, JsonPath | None], str] = {}
        index = 0
        for item in columns:
            projection = item.projection
            if projection.field is None:
                for name in projection.entity.field_names:
                    labels.setdefault((projection.tag, name, None), f"c{index}")
                    index += 1
                continue
            assert projection.key is not None
            labels.setdefault(projection.key, f"c{index}")
            index += 1
        inner = statement.subquery("d")
        keys = []
        for key in self.spec.order:  # the core checked that every key is projected
            label = labels[(key.tag, key.field.name, key.field.path)]
            keys += self._order_keys(inner.c[label], key.field, (), key.descending)
        return select(*inner.c).order_by(*keys)


def _first(values: list[Any]) -> Any:
    """Decode a projection that reads one column unchanged (recognised by :func:`_decode`)."""
    return values[0]


def _decode(row: Any, columns: list[_Columns]) -> tuple[Any, ...]:
    if all(item.decode is _first for item in columns):  # plain columns: the row as it is
        return tuple(row)
    values = []
    position = 0
    for item in columns:
        width = len(item.columns)
        values.append(item.decode(list(row[position : position + width])))
        position += width
    return tuple(values)
