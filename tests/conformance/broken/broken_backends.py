"""Deliberately broken variants of ``core.sqlite_temp`` and ``core.sandbox``, one realistic defect each.

The plugin hooks register each class under ``broken.<defect>``. They exist only so that
``test_kit_catches_defects.py`` can show that the conformance kit fails each of them; every defect is written
on top of the public API of the pristine class (the few that need the SQL layer say why).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, BinaryIO

from provstore import hookimpl
from provstore.hookspecs import BackendSpec
from provstore.storage import EntityTypes
from provstore_sandbox.backend import SandboxRepositoryBackend
from provstore_sqlite_temp.backend import SqliteTempBackend

COMPARISONS = ("<", "<=", ">", ">=")


def rewrite_filters(filters: Any, rewrite: Any) -> Any:
    """Return ``filters`` with ``rewrite(field, operations)`` applied to every field's operator dict."""
    if not isinstance(filters, dict):
        return filters
    result: dict[str, Any] = {}
    for key, value in filters.items():
        if key in ("and", "or") and isinstance(value, list):
            result[key] = [rewrite_filters(item, rewrite) for item in value]
        elif key == "not":
            result[key] = rewrite_filters(value, rewrite)
        elif isinstance(value, dict) and value and all(isinstance(op, str) for op in value):
            result[key] = value
            replaced = rewrite(key, value)
            if replaced is not None:
                del result[key]
                result.setdefault("and", []).append(replaced)
        else:
            result[key] = value
    return result


class RewritingQuery:
    """A query builder wrapper that rewrites every filter before the real builder sees it."""

    def __init__(self, inner: Any, rewrite: Any) -> None:
        self._inner = inner
        self._rewrite = rewrite

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            for key in ("filters", "link_filters"):
                if kwargs.get(key) is not None:
                    kwargs[key] = rewrite_filters(kwargs[key], self._rewrite)
            result = attribute(*args, **kwargs)
            return RewritingQuery(result, self._rewrite) if isinstance(result, type(self._inner)) else result

        return call


# ------------------------------------------------------------------------------------------------ storages
class SavepointIgnored(SqliteTempBackend):
    """Nested ``transaction()`` opens no savepoint: an inner rollback does not roll back (its work commits)."""

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        if self.in_transaction:
            yield self.get_session()  # the open transaction's session, with no savepoint begun
            return
        with super().transaction() as session:
            yield session


class LinkLabelsDropped(SqliteTempBackend):
    """Links are stored without their label (the rules are checked on the real label, the row gets '')."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # add_incoming writes an ORM row: blank its label on the way to the database (SQL layer needed here)
        import sqlalchemy as sa
        from provstore_sql.models import DbLink

        if not sa.event.contains(DbLink, "before_insert", _blank_label):
            sa.event.listen(DbLink, "before_insert", _blank_label)

    def bulk_insert(self, entity_type: EntityTypes, rows: Iterable[dict[str, Any]], *args: Any, **kwargs: Any) -> Any:
        if entity_type == EntityTypes.LINK:
            rows = [{**row, "label": ""} for row in rows]
        return super().bulk_insert(entity_type, rows, *args, **kwargs)


def _blank_label(mapper: Any, connection: Any, target: Any) -> None:
    target.label = ""


class LessThanIsLessOrEqual(SqliteTempBackend):
    """The query compiler turns ``<`` into ``<=`` (and ``>`` into ``>=``): strict comparisons include equality."""

    def query(self) -> Any:
        def rewrite(field: str, operations: dict[str, Any]) -> dict[str, Any] | None:
            if not any(op in operations for op in ("<", ">")):
                return None
            loose = {{"<": "<=", ">": ">="}.get(op, op): operand for op, operand in operations.items()}
            return {field: loose}

        return RewritingQuery(super().query(), rewrite)


class JsonTypeIgnored(SqliteTempBackend):
    """Comparisons on JSON values also compare their text: ``{"attributes.x": {">": 5}}`` matches ``"7"``."""

    def query(self) -> Any:
        def rewrite(field: str, operations: dict[str, Any]) -> dict[str, Any] | None:
            if not field.startswith(("attributes.", "extras.")) or len(operations) != 1:
                return None
            ((op, operand),) = operations.items()
            if op not in COMPARISONS or isinstance(operand, bool) or not isinstance(operand, int | float):
                return None
            return {"or": [{field: {op: operand}}, {field: {op: str(operand)}}]}

        return RewritingQuery(super().query(), rewrite)


class BulkPksOutOfOrder(SqliteTempBackend):
    """``bulk_insert`` returns the new pks sorted as text (1, 10, 11, 2, ...), not in the order of the rows."""

    def bulk_insert(self, *args: Any, **kwargs: Any) -> list[int]:
        return sorted(super().bulk_insert(*args, **kwargs), key=str)


class DeleteLeavesLinks(SqliteTempBackend):
    """``delete_nodes_and_connections`` forgets the links, on a database without foreign keys enforced."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        raw = self.get_session().get_bind().raw_connection()  # SQLite's default: foreign keys off
        try:
            raw.driver_connection.execute("PRAGMA foreign_keys=OFF")
        finally:
            raw.close()

    def delete_nodes_and_connections(self, pks_to_delete: Sequence[int]) -> None:
        gone = set(pks_to_delete)
        query = self.query().append("node", tag="source", project="id")
        query.append("node", with_incoming="source", project="id", link_project=["type", "label"])
        links = [row for row in query.all() if gone & {row[0], row[1]}]
        super().delete_nodes_and_connections(pks_to_delete)
        rows = [{"input_id": a, "output_id": b, "type": kind, "label": label} for a, b, kind, label in links]
        if rows:
            self.bulk_insert(EntityTypes.LINK, rows)


# ------------------------------------------------------------------------------------------------ repositories
class HasObjectsSorted(SandboxRepositoryBackend):
    """``has_objects`` answers for the keys in sorted order instead of the order asked."""

    def has_objects(self, keys: list[str]) -> list[bool]:
        answers = dict(zip(keys, super().has_objects(list(keys)), strict=True))
        return [answers[key] for key in sorted(keys)]


class WriteHoldsObject(SandboxRepositoryBackend):
    """A write reads the whole object into memory before storing it."""

    def put_object_from_filelike(self, handle: BinaryIO) -> str:
        if not self.is_readable_byte_stream(handle):
            return super().put_object_from_filelike(handle)
        return super().put_object_from_filelike(io.BytesIO(handle.read()))


STORAGE_VARIANTS = {
    "broken.savepoint": SavepointIgnored,
    "broken.linklabels": LinkLabelsDropped,
    "broken.lessthan": LessThanIsLessOrEqual,
    "broken.jsontype": JsonTypeIgnored,
    "broken.bulkorder": BulkPksOutOfOrder,
    "broken.deletelinks": DeleteLeavesLinks,
}
REPOSITORY_VARIANTS = {"broken.hasobjects": HasObjectsSorted, "broken.memorywrite": WriteHoldsObject}


@hookimpl
def provstore_storage_backends() -> list[BackendSpec]:
    """Register every broken storage variant."""
    return [
        BackendSpec(name, f"broken_backends:{cls.__name__}", cls.__doc__.splitlines()[0])
        for name, cls in STORAGE_VARIANTS.items()
    ]


@hookimpl
def provstore_repository_backends() -> list[BackendSpec]:
    """Register every broken repository variant."""
    return [
        BackendSpec(name, f"broken_backends:{cls.__name__}", cls.__doc__.splitlines()[0])
        for name, cls in REPOSITORY_VARIANTS.items()
    ]
