"""The ``provstore`` command line (click): plugins, profiles, presto and storage maintenance."""

from provstore.cli.root import cli, main

__all__ = ["cli", "main"]
