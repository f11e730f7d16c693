"""The repository interface: a flat, content-addressed (or uuid-keyed) store of binary objects."""

from provstore.repository.abstract import AbstractRepositoryBackend, validate_key

__all__ = ["AbstractRepositoryBackend", "validate_key"]
