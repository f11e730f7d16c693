"""The conformance kit's fixtures (``provstore_*``): loaded here, for this test suite only."""

pytest_plugins = ["provstore.testing.fixtures"]
