"""provstore plugin providing the ``core.sandbox`` repository backend (a temporary folder on disk)."""
