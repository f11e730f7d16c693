"""provstore plugin providing the ``core.diskobjectstore`` repository backend (a disk-objectstore container)."""
