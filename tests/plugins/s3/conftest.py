"""Fixtures of the core.s3 tests: one moto S3 server (a real S3 API over HTTP on 127.0.0.1) for the session."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("moto.server", reason="the S3 tests need moto[server] (requirements-dev.txt)")

from provstore_s3.testing import S3TestServer


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3TestServer]:
    """Return moto's S3 server, started in a subprocess on a free port of 127.0.0.1 for the whole session."""
    with S3TestServer() as server:
        yield server


@pytest.fixture
def s3_config(s3_server: S3TestServer) -> Iterator[Callable[..., dict[str, Any]]]:
    """Return ``make(**settings)``: a core.s3 configuration on a new bucket; every bucket made is erased after."""
    from provstore_s3.backend import S3RepositoryBackend

    made: list[dict[str, Any]] = []

    def make(**settings: Any) -> dict[str, Any]:
        settings.setdefault("bucket", f"test-{uuid.uuid4().hex[:20]}")
        settings.setdefault("max_attempts", 2)
        config = s3_server.repository_config(**settings)
        made.append(config)
        return config

    yield make
    client = s3_server.client()
    for config in made:
        try:
            S3RepositoryBackend.from_config({**config, "endpoint_url": s3_server.url}).erase(force=True)
            client.delete_bucket(Bucket=config["bucket"])
        except Exception:  # the bucket was never created, or erase removed it already
            pass


@pytest.fixture
def s3_repository(s3_config: Callable[..., dict[str, Any]]) -> Iterator[Any]:
    """Return an initialised core.s3 repository on a fresh bucket (closed after the test)."""
    from provstore_s3.backend import S3RepositoryBackend

    repository = S3RepositoryBackend.from_config(s3_config())
    repository.initialise()
    yield repository
    repository.close()
