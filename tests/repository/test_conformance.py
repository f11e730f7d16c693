"""Run the repository conformance kit against both repository plugins and their key formats / settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from provstore.testing.repository import RepositoryBackendTests


class TestSandboxUuid4(RepositoryBackendTests):
    backend = "core.sandbox"
    content_addressed = False
    has_uuid = False

    @pytest.fixture
    def repository_config(self, tmp_path: Path) -> dict[str, Any]:
        return {"filepath": str(tmp_path / "sandboxes")}


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
