"""The bulk operations of the SQL backends: rows checked before they are sent, written in chunks.

- :mod:`~provstore_sql.bulk.rows`: which table an entity type is, and the checks and defaults of its rows;
- :mod:`~provstore_sql.bulk.writer`: ``bulk_insert``, ``bulk_update`` and ``delete_nodes_and_connections``;
- :mod:`~provstore_sql.bulk.load_mode`: the explicit load mode (indexes dropped and rebuilt under exclusive locks);
- :mod:`~provstore_sql.bulk.sqlite_insert`: the SQLite insert path (multi-row ``INSERT ... RETURNING``).
"""
