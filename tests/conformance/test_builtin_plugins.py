"""Every built-in plugin passes the conformance kit that third-party authors use (provstore.testing)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
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


@pytest.mark.postgres
class TestPsqlDos(StorageBackendTests):
    backend = "core.psql_dos"

    @pytest.fixture
    def storage_profile_config(self, pg_cluster: Any, tmp_path: Path) -> Iterator[dict[str, Any]]:
        """A fresh database owned by a role with a password (so the kit checks the secret is never shown)."""
        name = f"conformance_{uuid.uuid4().hex[:12]}"
        password = uuid.uuid4().hex
        pg_cluster.create_role(name, password)
        params = pg_cluster.create_database(name, owner=name)
        config = {
            "database_hostname": params["host"],
            "database_port": params["port"],
            "database_username": name,
            "database_password": password,
            "database_name": name,
            "repository_uri": (tmp_path / "repository").as_uri(),
        }
        yield {"storage": {"backend": self.backend, "config": config}}
        pg_cluster.drop_database(name)
        pg_cluster.drop_role(name)


class TestSandbox(RepositoryBackendTests):
    backend = "core.sandbox"
    has_uuid = False
    content_addressed = False


class TestSandboxSha256(RepositoryBackendTests):
    backend = "core.sandbox"
    has_uuid = False

    @pytest.fixture
    def repository_config(self, tmp_path: Path) -> dict[str, Any]:
        return {"filepath": str(tmp_path / "sandboxes"), "key_format": "sha256"}


class TestDiskObjectStore(RepositoryBackendTests):
    backend = "core.diskobjectstore"


class TestDiskObjectStoreCompressed(RepositoryBackendTests):
    backend = "core.diskobjectstore"

    @pytest.fixture
    def repository_config(self, tmp_path: Path) -> dict[str, Any]:
        return {"filepath": str(tmp_path / "container"), "compression": True, "loose_prefix_len": 0}
