"""A tiny third-party provstore plugin used by the tests: one storage backend kept in a folder."""
