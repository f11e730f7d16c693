"""provstore plugin providing the ``core.sqlite_dos`` storage backend (SQLite file plus disk-objectstore)."""
