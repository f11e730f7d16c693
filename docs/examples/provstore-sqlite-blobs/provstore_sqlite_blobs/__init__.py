"""provstore-sqlite-blobs: an example repository backend that keeps every object in one SQLite file."""

__version__ = "0.1.0"
