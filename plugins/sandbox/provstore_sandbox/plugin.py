"""Hook implementations of the sandbox plugin; cheap to import (the backend class is named, not imported)."""

from __future__ import annotations

from provstore.hookspecs import BackendSpec, hookimpl


@hookimpl
def provstore_repository_backends() -> list[BackendSpec]:
    """Register ``core.sandbox``."""
    return [
        BackendSpec(
            name="core.sandbox",
            target="provstore_sandbox.backend:SandboxRepositoryBackend",
            description="Temporary folder on disk, deleted when erased or garbage-collected (uuid4 or sha256 keys).",
        )
    ]
