"""pytest plugin of provstore (entry point ``pytest11``): fixtures that build profiles, storages and repositories.

It is loaded in every pytest run of an environment where provstore is installed, so it stays cheap to import
and defines no autouse fixture: the conformance classes of :mod:`provstore.testing` request what they need.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from provstore.config import Profile
    from provstore.repository import AbstractRepositoryBackend
    from provstore.storage import StorageBackend

REQUIRES_MARKER = "provstore_requires"


def pytest_configure(config: pytest.Config) -> None:
    """Register the capability marker so that ``--strict-markers`` accepts it."""
    config.addinivalue_line(
        "markers",
        f"{REQUIRES_MARKER}(*capabilities): skip unless the backend under test declares every capability",
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip a conformance test whose backend class does not declare a capability the test needs."""
    for marker in item.iter_markers(REQUIRES_MARKER):
        owner = getattr(item, "cls", None)
        unknown = [name for name in marker.args if not isinstance(getattr(owner, name, None), bool)]
        if unknown:
            pytest.fail(f"{item.nodeid}: unknown capability {', '.join(unknown)} (not a bool class attribute)")
        missing = [name for name in marker.args if not getattr(owner, name)]
        if missing:
            backend = getattr(owner, "backend", "?")
            pytest.skip(f"backend {backend} does not declare {', '.join(missing)}")


def _backend_of(request: pytest.FixtureRequest) -> str:
    """Return the ``backend`` class attribute of the requesting test class, or fail with a usage hint."""
    name = getattr(request.cls, "backend", None)
    if not isinstance(name, str) or not name:
        pytest.fail(
            f"{request.node.nodeid}: set the class attribute `backend = 'prefix.name'` "
            "(or override the backend name fixture)",
            pytrace=False,
        )
    return name


@pytest.fixture
def provstore_config_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point ``PROVSTORE_CONFIG_DIR`` at a fresh folder so the test never reads or writes the user's profiles."""
    path = tmp_path_factory.mktemp("provstore_config")
    monkeypatch.setenv("PROVSTORE_CONFIG_DIR", str(path))
    return path


# ------------------------------------------------------------------------------------------ storage backends
@pytest.fixture
def storage_backend_name(request: pytest.FixtureRequest) -> str:
    """Return the storage backend under test: the ``backend`` attribute of the test class."""
    return _backend_of(request)


@pytest.fixture
def storage_profile_config(storage_backend_name: str, tmp_path: Path) -> dict[str, Any]:
    """Return the profile dictionary the storage under test is opened with.

    The default fills the required path settings of the backend's ``Configuration`` with folders under
    ``tmp_path``. Override this fixture when the backend needs other settings (a server address, credentials).
    """
    from provstore.testing.configs import default_storage_profile

    return default_storage_profile(storage_backend_name, tmp_path)


@pytest.fixture
def storage_factory(
    storage_profile_config: dict[str, Any], provstore_config_dir: Path
) -> Iterator[Callable[..., StorageBackend]]:
    """Return ``factory(profile=None, initialise=True)`` that opens a storage; every storage it opened is closed.

    Without arguments it initialises (resetting) the profile of :func:`storage_profile_config` and opens it;
    pass a :class:`~provstore.config.Profile` to open another (e.g. the same profile twice).
    """
    from provstore import open_storage
    from provstore.config import Profile
    from provstore.plugins import resolve_storage_class

    opened: list[StorageBackend] = []

    def factory(profile: Profile | None = None, initialise: bool = True) -> StorageBackend:
        profile = profile if profile is not None else Profile("conformance", storage_profile_config)
        if initialise:
            resolve_storage_class(profile).initialise(profile, reset=True)
        storage = open_storage(profile)
        opened.append(storage)
        return storage

    yield factory
    for storage in reversed(opened):
        if not storage.is_closed:
            storage.close()


@pytest.fixture
def storage(storage_factory: Callable[..., StorageBackend]) -> StorageBackend:
    """Return a freshly initialised, open storage of the backend under test (closed after the test)."""
    return storage_factory()


# --------------------------------------------------------------------------------------- repository backends
@pytest.fixture
def repository_backend_name(request: pytest.FixtureRequest) -> str:
    """Return the repository backend under test: the ``backend`` attribute of the test class."""
    return _backend_of(request)


@pytest.fixture
def repository_config(repository_backend_name: str, tmp_path: Path) -> dict[str, Any]:
    """Return the configuration the repository under test is built from; override it when paths are not enough."""
    from provstore.testing.configs import default_repository_config

    return default_repository_config(repository_backend_name, tmp_path)


@pytest.fixture
def repository_factory(
    repository_backend_name: str, repository_config: dict[str, Any]
) -> Iterator[Callable[..., AbstractRepositoryBackend]]:
    """Return ``factory(config=None, initialise=True)`` building repositories with ``from_config``; closed after."""
    from provstore.plugins import get_plugin_manager

    built: list[AbstractRepositoryBackend] = []

    def factory(config: dict[str, Any] | None = None, initialise: bool = True) -> AbstractRepositoryBackend:
        cls = get_plugin_manager().get_repository_backend(repository_backend_name)
        repository = cls.from_config(dict(repository_config if config is None else config))
        if initialise:
            repository.initialise()
        built.append(repository)
        return repository

    yield factory
    for repository in reversed(built):
        repository.close()


@pytest.fixture
def repository(repository_factory: Callable[..., AbstractRepositoryBackend]) -> AbstractRepositoryBackend:
    """Return an initialised repository of the backend under test (closed after the test)."""
    return repository_factory()
