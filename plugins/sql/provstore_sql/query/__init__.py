"""The query API of the SQL storage backends: ``storage.query()`` returns a :class:`QueryBuilder`."""

from provstore_sql.query.builder import QueryBuilder
from provstore_sql.query.filters import OPERATORS
from provstore_sql.query.traversal import PROVENANCE_LINK_TYPES

__all__ = ["OPERATORS", "PROVENANCE_LINK_TYPES", "QueryBuilder"]
