"""provstore plugin providing the ``core.psql_dos`` storage backend (PostgreSQL plus disk-objectstore)."""
