"""The query language of provstore: ``storage.query()`` returns a :class:`QueryBuilder` of the storage's backend.

The core defines the whole language (entities and relationships, field paths, the filter grammar, result
forms) and validates every call; a backend only compiles and runs the validated :class:`QuerySpec`.
Nothing here depends on a database.
"""

from provstore.query.builder import EntityQuery, OrderKey, Projection, QueryBuilder, QuerySpec, Traversal
from provstore.query.fields import FieldRef, JsonPath
from provstore.query.filters import OPERATORS, And, Condition, Filter, Not, Or, parse_filters
from provstore.query.schema import (
    ENTITIES,
    LINK,
    LINK_TYPES,
    PROVENANCE_LINK_TYPES,
    RELATIONSHIPS,
    EntityKind,
    FieldKind,
    FieldSpec,
)

__all__ = [
    "ENTITIES",
    "LINK",
    "LINK_TYPES",
    "OPERATORS",
    "PROVENANCE_LINK_TYPES",
    "RELATIONSHIPS",
    "And",
    "Condition",
    "EntityKind",
    "EntityQuery",
    "FieldKind",
    "FieldRef",
    "FieldSpec",
    "Filter",
    "JsonPath",
    "Not",
    "Or",
    "OrderKey",
    "Projection",
    "QueryBuilder",
    "QuerySpec",
    "Traversal",
    "parse_filters",
]
