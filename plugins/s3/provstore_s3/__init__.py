"""provstore plugin providing the ``core.s3`` repository backend (an S3-compatible object store)."""
