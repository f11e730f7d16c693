"""Hook implementations of the S3 plugin; cheap to import (boto3 is not imported here)."""

from __future__ import annotations

from provstore.hookspecs import BackendSpec, hookimpl


@hookimpl
def provstore_repository_backends() -> list[BackendSpec]:
    """Register ``core.s3``."""
    return [
        BackendSpec(
            name="core.s3",
            target="provstore_s3.backend:S3RepositoryBackend",
            description="S3-compatible object store (AWS S3, MinIO, Ceph RGW): content-addressed (sha256) objects.",
            requires={"boto3": "boto3"},
        )
    ]
