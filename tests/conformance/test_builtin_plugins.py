"""Every built-in plugin passes the whole conformance kit that third-party authors use (provstore.testing)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from provstore.testing import RepositoryBackendTests, StorageBackendTests


class TestSqliteDos(StorageBackendTests):
    backend = "core.sqlite_dos"


class TestSqliteTemp(StorageBackendTests):
    backend = "core.sqlite_temp"
    persistent = False
    supports_concurrent_processes = False
    supports_concurrent_threads = False  # one in-memory connection shared by every thread


@pytest.mark.postgres
@pytest.mark.slow  # about 500 tests, each on a database reset for it: minutes, so not in the fast tier
class TestPsqlDos(StorageBackendTests):
    backend = "core.psql_dos"

    @pytest.fixture(scope="class")
    @classmethod
    def provstore_storage_config_factory(
        cls, pg_cluster: Any, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[Callable[[], dict[str, Any]]]:
        """A fresh database per store, owned by a role with a password (so the kit checks it is never shown)."""
        created: list[str] = []

        def make() -> dict[str, Any]:
            name = f"kit_{uuid.uuid4().hex[:12]}"
            password = uuid.uuid4().hex
            pg_cluster.create_role(name, password)
            params = pg_cluster.create_database(name, owner=name)
            created.append(name)
            config = {
                "database_hostname": params["host"],
                "database_port": params["port"],
                "database_username": name,
                "database_password": password,
                "database_name": name,
                "repository_uri": (tmp_path_factory.mktemp("repository") / "repository").as_uri(),
            }
            return {"storage": {"backend": cls.backend, "config": config}}

        yield make
        for name in created:
            pg_cluster.drop_database(name)
            pg_cluster.drop_role(name)


class TestArchiveReader(StorageBackendTests):
    """A read-only backend: an archive opened with ``open_archive``, holding the kit's data set.

    Only the read tests run (``read_only``); the kit's data set is written into a ``core.sqlite_temp`` storage,
    exported with ``create_archive`` and read back, as the author guide tells read-only backends to do.
    """

    backend = "core.sqlite_temp"  # the configuration tests check the writable source's backend
    read_only = True
    persistent = False

    @pytest.fixture(scope="class")
    @classmethod
    def provstore_dataset_storage(cls, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
        import provstore
        from provstore.archive import create_archive, open_archive
        from provstore.testing.dataset import populate
        from provstore_sqlite_temp.backend import SqliteTempBackend

        path = tmp_path_factory.mktemp("archive") / "dataset.provstore"
        with provstore.open_storage(
            SqliteTempBackend.create_profile(default_user_email="kit@provstore.test")
        ) as source:
            populate(source)
            create_archive(source, path)
        with open_archive(path) as archive:
            yield archive


class TestSandbox(RepositoryBackendTests):
    backend = "core.sandbox"
    has_uuid = False
    content_addressed = False
    key_format = "uuid4"


class TestSandboxSha256(RepositoryBackendTests):
    backend = "core.sandbox"
    has_uuid = False

    @pytest.fixture
    def provstore_repository_config(self, tmp_path: Path) -> dict[str, Any]:
        return {"filepath": str(tmp_path / "sandboxes"), "key_format": "sha256"}


class TestDiskObjectStore(RepositoryBackendTests):
    backend = "core.diskobjectstore"


class TestDiskObjectStoreCompressed(RepositoryBackendTests):
    backend = "core.diskobjectstore"

    @pytest.fixture
    def provstore_repository_config(self, tmp_path: Path) -> dict[str, Any]:
        return {"filepath": str(tmp_path / "container"), "compression": True, "loose_prefix_len": 0}
