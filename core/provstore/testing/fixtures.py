"""pytest plugin of the conformance kit: the ``provstore_*`` fixtures that build profiles, storages and repositories.

It is **not** loaded by installing provstore. A test suite that runs the kit asks for it in its top-level
``conftest.py``::

    pytest_plugins = ["provstore.testing.fixtures"]

so no other project's pytest session ever sees these fixtures. Every fixture name starts with ``provstore_``;
the fixtures an author overrides are ``provstore_storage_config_factory`` (settings other than paths, e.g. a
server) and ``provstore_repository_config``; ``provstore_dataset_storage`` is overridden by read-only backends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from provstore.testing.capabilities import MARKER, check_capabilities

if TYPE_CHECKING:
    from provstore.config import Profile
    from provstore.repository import AbstractRepositoryBackend
    from provstore.storage import StorageBackend
    from provstore.testing.dataset import Dataset

KIT_USER_EMAIL = "kit@provstore.test"
"""Default user of every profile the kit builds."""


def pytest_configure(config: pytest.Config) -> None:
    """Register the kit's markers (capabilities, and ``slow`` for its long tests) for ``--strict-markers``."""
    config.addinivalue_line(
        "markers", f"{MARKER}(*capabilities, absent=()): skip unless the backend's test class declares them"
    )
    config.addinivalue_line("markers", "slow: a kit test that takes seconds; deselect with -m 'not slow'")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip a conformance test whose class does not declare the capabilities it needs (before any fixture runs)."""
    check_capabilities(item)


def _backend_of(request: pytest.FixtureRequest) -> str:
    """Return the ``backend`` class attribute of the requesting test class, or fail with a usage hint."""
    name = getattr(request.cls, "backend", None)
    if not isinstance(name, str) or not name:
        pytest.fail(
            f"{request.node.nodeid}: set the class attribute `backend = 'prefix.name'` of the test class",
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
@pytest.fixture(scope="class")
def provstore_storage_backend(request: pytest.FixtureRequest) -> str:
    """Return the name of the storage backend under test: the ``backend`` attribute of the test class."""
    return _backend_of(request)


@pytest.fixture(scope="class")
def provstore_storage_config_factory(
    provstore_storage_backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[], dict[str, Any]]:
    """Return ``make()``, giving the profile dictionary of a new, separate, empty store each time it is called.

    The default is :func:`provstore.testing.profiles.storage_section` on a fresh folder: a built-in backend's
    recipe, or the required path settings of the backend's ``Configuration`` filled with folders.
    Override it (``scope="class"``, as a ``classmethod`` when defined in the test class) when the backend needs
    other settings, e.g. a new database per call on a server; clean up what ``make`` created after ``yield``.
    """
    from provstore.testing.profiles import storage_section

    def make() -> dict[str, Any]:
        storage = storage_section(provstore_storage_backend, tmp_path_factory.mktemp("store"))
        return {"storage": storage, "default_user_email": KIT_USER_EMAIL}

    return make


def _with_user(config: dict[str, Any]) -> dict[str, Any]:
    """Return ``config`` with the kit's default user unless it names its own."""
    return {"default_user_email": KIT_USER_EMAIL, **config}


@pytest.fixture(scope="class")
def provstore_storage_config(provstore_storage_config_factory: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Return the profile dictionary of the store the class's writing tests use, each after resetting it.

    ``provstore_storage`` initialises it with ``reset=True`` for every test, so each test starts empty
    while a server-based backend creates only a few databases per class.
    """
    return _with_user(provstore_storage_config_factory())


@pytest.fixture
def provstore_fresh_storage_config(provstore_storage_config_factory: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Return the profile dictionary of a new store that nothing has initialised yet."""
    return _with_user(provstore_storage_config_factory())


def _open(profile: Profile, initialise: bool) -> StorageBackend:
    """Initialise (resetting) and open the storage of ``profile`` through the public resolution path."""
    import provstore
    from provstore.testing.configs import storage_class

    if initialise:
        storage_class(profile).initialise(profile, reset=True)
    return provstore.open_storage(profile)


@pytest.fixture
def provstore_storage_factory(
    provstore_storage_config: dict[str, Any], provstore_config_dir: Path
) -> Iterator[Callable[..., StorageBackend]]:
    """Return ``open(profile=None, initialise=True)`` opening a storage; every storage it opened is closed after.

    Without arguments it initialises (resetting) the profile of ``provstore_storage_config`` and opens it; pass a
    :class:`~provstore.config.Profile` to open another (e.g. the same profile a second time).
    """
    from provstore.config import Profile

    opened: list[StorageBackend] = []

    def factory(profile: Profile | None = None, initialise: bool = True) -> StorageBackend:
        profile = profile if profile is not None else Profile("conformance", provstore_storage_config)
        storage = _open(profile, initialise)
        opened.append(storage)
        return storage

    yield factory
    for storage in reversed(opened):
        if not storage.is_closed:
            storage.close()


@pytest.fixture
def provstore_storage(provstore_storage_factory: Callable[..., StorageBackend]) -> StorageBackend:
    """Return a freshly initialised, empty, open storage of the backend under test (closed after the test)."""
    return provstore_storage_factory()


@pytest.fixture(scope="class")
def provstore_dataset_storage(
    provstore_storage_config_factory: Callable[[], dict[str, Any]],
) -> Iterator[StorageBackend]:
    """Return an open storage holding the kit's data set (:mod:`provstore.testing.dataset`), shared by a class.

    The read tests (queries, reading entities) use it and never change it. The default initialises a new
    store and fills it with :func:`provstore.testing.dataset.populate`. A **read-only** backend overrides this
    fixture: fill a writable store with ``populate`` (e.g. ``core.sqlite_temp``), convert it into the
    backend's format, and yield the backend's storage opened on the result.
    """
    from provstore.config import Profile
    from provstore.testing.dataset import populate

    storage = _open(Profile("conformance-dataset", _with_user(provstore_storage_config_factory())), initialise=True)
    try:
        populate(storage)
        yield storage
    finally:
        storage.close()


@pytest.fixture(scope="class")
def provstore_dataset(provstore_dataset_storage: StorageBackend) -> Dataset:
    """Return the kit's data set as found in ``provstore_dataset_storage`` (names of entities -> their pks)."""
    from provstore.testing.dataset import Dataset

    return Dataset.locate(provstore_dataset_storage)


# --------------------------------------------------------------------------------------- repository backends
@pytest.fixture(scope="class")
def provstore_repository_backend(request: pytest.FixtureRequest) -> str:
    """Return the name of the repository backend under test: the ``backend`` attribute of the test class."""
    return _backend_of(request)


@pytest.fixture
def provstore_repository_config(provstore_repository_backend: str, tmp_path: Path) -> dict[str, Any]:
    """Return the configuration the repository under test is built from; override it when paths are not enough."""
    from provstore.testing.configs import default_repository_config

    return default_repository_config(provstore_repository_backend, tmp_path)


@pytest.fixture
def provstore_repository_factory(
    provstore_repository_backend: str, provstore_repository_config: dict[str, Any]
) -> Iterator[Callable[..., AbstractRepositoryBackend]]:
    """Return ``build(config=None, initialise=True)`` building repositories with ``from_config``; closed after."""
    from provstore.plugins import get_plugin_manager

    built: list[AbstractRepositoryBackend] = []

    def factory(config: dict[str, Any] | None = None, initialise: bool = True) -> AbstractRepositoryBackend:
        cls = get_plugin_manager().get_repository_backend(provstore_repository_backend)
        repository = cls.from_config(dict(provstore_repository_config if config is None else config))
        if initialise:
            repository.initialise()
        built.append(repository)
        return repository

    yield factory
    for repository in reversed(built):
        repository.close()


@pytest.fixture
def provstore_repository(
    provstore_repository_factory: Callable[..., AbstractRepositoryBackend],
) -> AbstractRepositoryBackend:
    """Return an initialised, empty repository of the backend under test (closed after the test)."""
    return provstore_repository_factory()
