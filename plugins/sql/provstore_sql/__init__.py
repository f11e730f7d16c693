"""The SQL layer shared by every SQL storage backend (SQLAlchemy 2.x); it registers no backend itself.

- :mod:`~provstore_sql.backend`: :class:`SqlStorageBackend`, composed of the parts below;
- :mod:`~provstore_sql.dialect`: :class:`SqlDialect`, what a backend says about its database;
- :mod:`~provstore_sql.sessions`: sessions, transactions, forks; :mod:`~provstore_sql.bulk`: bulk writing;
  :mod:`~provstore_sql.schema`: initialise, migrate, version, delete; :mod:`~provstore_sql.maintenance`: info
  and maintenance;
- :mod:`~provstore_sql.tables`, :mod:`~provstore_sql.models`, :mod:`~provstore_sql.migrator`: the schema;
  :mod:`~provstore_sql.engine`, :mod:`~provstore_sql.locking`: engine settings and profile locks;
- :mod:`~provstore_sql.entities`, :mod:`~provstore_sql.query`: the entity collections and the query builder.
"""
