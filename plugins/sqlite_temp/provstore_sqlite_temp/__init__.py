"""provstore plugin providing the ``core.sqlite_temp`` storage backend (in-memory SQLite, sandbox repository)."""
