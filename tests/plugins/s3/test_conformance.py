"""core.s3 passes the whole repository conformance kit, against a real S3 API server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from provstore.testing import RepositoryBackendTests

MiB = 1024 * 1024


class TestS3(RepositoryBackendTests):
    """Default settings: objects up to 8 MiB go in one PUT, larger ones as 8 MiB parts."""

    backend = "core.s3"

    @pytest.fixture
    def provstore_repository_config(self, s3_config: Callable[..., dict[str, Any]]) -> dict[str, Any]:
        return s3_config()


@pytest.mark.slow
class TestS3PrefixSmallParts(RepositoryBackendTests):
    """A repository in a folder of a bucket, with the smallest parts S3 allows and one request at a time."""

    backend = "core.s3"

    @pytest.fixture
    def provstore_repository_config(self, s3_config: Callable[..., dict[str, Any]]) -> dict[str, Any]:
        return s3_config(prefix="group/provstore", multipart_threshold=5 * MiB, part_size=5 * MiB, max_concurrency=1)
