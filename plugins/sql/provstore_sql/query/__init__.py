"""Query compilation of the SQL storage backends: ``storage.query()`` returns a :class:`SqlQueryBuilder`."""

from provstore_sql.query.builder import SqlQueryBuilder

__all__ = ["SqlQueryBuilder"]
