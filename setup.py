"""Package list of the core: everything under core/, plus the top-level alembic scripts as provstore.migrations."""

from setuptools import find_packages, setup

setup(
    packages=[
        *find_packages("core", include=["provstore*"]),
        "provstore.migrations",
        "provstore.migrations.versions",
    ]
)
