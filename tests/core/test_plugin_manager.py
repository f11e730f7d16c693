"""Plugin manager in-process: lazy resolution, caching, and one clear error per failure mode.

Plugins here are objects registered directly; discovery through real entry points of installed
distributions is tested in ``test_plugin_discovery.py``.
"""

from __future__ import annotations

import gc
import sys
import textwrap

import click
import pytest
from provstore import hookimpl
from provstore.exceptions import MissingDependency, PluginConflict, PluginLoadError, PluginNotFound
from provstore.hookspecs import BackendSpec
from provstore.plugins import PluginManager, get_plugin_manager, reset_plugin_manager

STORAGE_MODULE = """
from provstore.storage import StorageBackend
IMPORTS = globals().get("IMPORTS", 0) + 1

class Store(StorageBackend):
    pass

class NotABackend:
    pass
"""


def make_plugin(storage=(), repository=()):
    """Return a plugin object whose hooks return the given BackendSpecs."""

    class Plugin:
        @hookimpl
        def provstore_storage_backends(self):
            return list(storage)

        @hookimpl
        def provstore_repository_backends(self):
            return list(repository)

    return Plugin()


@pytest.fixture
def modules(tmp_path, monkeypatch):
    """Return a function writing an importable module ``name`` with ``source`` (removed from sys.modules after)."""
    monkeypatch.syspath_prepend(str(tmp_path))
    written = []

    def write(name: str, source: str) -> str:
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        written.append(name)
        return name

    yield write
    for name in written:
        sys.modules.pop(name, None)


@pytest.fixture
def manager():
    return PluginManager(load_entry_points=False)


def test_backend_is_imported_only_when_resolved_and_then_cached(manager, modules):
    modules("pm_lazy_store", STORAGE_MODULE)
    manager.register(make_plugin([BackendSpec("test.lazy", "pm_lazy_store:Store", "lazy")]), "p")
    [row] = manager.list_backends()
    assert (row.group, row.name, row.status, row.description) == ("storage", "test.lazy", "ok", "lazy")
    assert (row.distribution, row.version) == (None, None)
    assert "pm_lazy_store" not in sys.modules
    cls = manager.get_storage_backend("test.lazy")
    assert cls.__name__ == "Store" and sys.modules["pm_lazy_store"].IMPORTS == 1
    assert manager.get_storage_backend("test.lazy") is cls


@pytest.mark.parametrize("enabled_before", [True, False])
def test_a_backend_imports_with_the_callers_garbage_collector_untouched(manager, modules, enabled_before):
    """The library never changes its caller's process: no collector pause around backend imports."""
    modules("pm_gc_store", STORAGE_MODULE + "import gc\nCOLLECTING = gc.isenabled()\n")
    modules("pm_gc_broken", "raise RuntimeError('boom')\n")
    manager.register(make_plugin([BackendSpec("test.gc", "pm_gc_store:Store", "")]), "p")
    manager.register(make_plugin([BackendSpec("test.gc_broken", "pm_gc_broken:Store", "")]), "q")
    (gc.enable if enabled_before else gc.disable)()
    try:
        manager.get_storage_backend("test.gc")
        assert sys.modules["pm_gc_store"].COLLECTING is enabled_before
        assert gc.isenabled() is enabled_before
        with pytest.raises(PluginLoadError):
            manager.get_storage_backend("test.gc_broken")
        assert gc.isenabled() is enabled_before
    finally:
        gc.enable()


def test_unknown_name_lists_installed_and_suggests_closest(manager):
    specs = [BackendSpec("test.sqlite_dos", "m:A", ""), BackendSpec("test.psql_dos", "m:B", "")]
    manager.register(make_plugin(specs), "p")
    with pytest.raises(PluginNotFound) as error:
        manager.get_storage_backend("test.sqlite_doss")
    assert str(error.value) == (
        "no storage backend named 'test.sqlite_doss' is installed (installed: test.psql_dos, test.sqlite_dos); "
        "did you mean 'test.sqlite_dos'?"
    )
    with pytest.raises(PluginNotFound, match=r"no repository backend named 'test.sqlite_dos' .*\(installed: none\)"):
        manager.get_repository_backend("test.sqlite_dos")


def test_two_plugins_claiming_one_name_conflict(manager, modules):
    modules("pm_conflict_store", STORAGE_MODULE)
    manager.register(make_plugin([BackendSpec("test.same", "pm_conflict_store:Store", "")]), "first")
    manager.register(make_plugin([BackendSpec("test.same", "pm_conflict_store:Other", "")]), "second")
    manager.register(make_plugin(repository=[BackendSpec("test.same", "x:Y", "")]), "third")  # other group: fine
    with pytest.raises(PluginConflict, match=r"'test.same' is claimed by plugin 'first' and plugin 'second'"):
        manager.get_storage_backend("test.same")
    statuses = {(row.group, row.name): row.status for row in manager.list_backends()}
    assert statuses[("storage", "test.same")].startswith("conflict: ")
    assert not statuses[("repository", "test.same")].startswith("conflict")


def test_missing_dependency_names_the_pip_package(manager, modules):
    modules("pm_needy_store", "import definitely_missing_dep_xyz\n")
    spec = BackendSpec(
        "test.needy", "pm_needy_store:Store", "", requires={"definitely_missing_dep_xyz": "definitely-missing-dep"}
    )
    manager.register(make_plugin([spec]), "p")
    [row] = manager.list_backends()
    assert row.status == "missing dependency: pip install definitely-missing-dep"
    assert "pm_needy_store" not in sys.modules  # found out without importing
    with pytest.raises(MissingDependency) as error:
        manager.get_storage_backend("test.needy")
    assert str(error.value).endswith(": pip install definitely-missing-dep")
    assert "'definitely_missing_dep_xyz'" in str(error.value)


def test_undeclared_missing_dependency_falls_back_to_the_module_name(manager, modules):
    modules("pm_undeclared_store", "import definitely_missing_dep_xyz.sub\n")
    manager.register(make_plugin([BackendSpec("test.undeclared", "pm_undeclared_store:Store", "")]), "p")
    assert manager.list_backends()[0].status == "ok"  # nothing declared, nothing to check before importing
    with pytest.raises(MissingDependency, match=r"pip install definitely_missing_dep_xyz$"):
        manager.get_storage_backend("test.undeclared")
    assert manager.list_backends()[0].status == "missing dependency: pip install definitely_missing_dep_xyz"


def test_import_error_of_one_backend_leaves_the_others_working(manager, modules):
    modules("pm_broken_store", "raise RuntimeError('boom at import\\nsecond line')\n")
    modules("pm_fine_store", STORAGE_MODULE)
    manager.register(make_plugin([BackendSpec("test.broken", "pm_broken_store:Store", "")]), "broken")
    manager.register(make_plugin([BackendSpec("test.fine", "pm_fine_store:Store", "")]), "fine")
    with pytest.raises(PluginLoadError) as error:
        manager.get_storage_backend("test.broken")
    assert str(error.value) == "backend 'test.broken': importing pm_broken_store failed: RuntimeError: boom at import"
    assert not isinstance(error.value, MissingDependency)
    assert manager.get_storage_backend("test.fine").__name__ == "Store"
    statuses = {row.name: row.status for row in manager.list_backends()}
    assert statuses == {"test.broken": f"error: {error.value}", "test.fine": "ok"}


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        ("pm_absent_module_xyz:Store", "its module 'pm_absent_module_xyz' is not installed"),
        ("pm_target_store:Missing", "has no attribute 'Missing'"),
        ("pm_target_store:NotABackend", "is not a subclass of StorageBackend"),
    ],
)
def test_bad_target(manager, modules, target, problem):
    modules("pm_target_store", STORAGE_MODULE)
    manager.register(make_plugin([BackendSpec("test.bad", target, "")]), "p")
    with pytest.raises(PluginLoadError, match=problem):
        manager.get_storage_backend("test.bad")


def test_storage_class_is_not_a_repository_backend(manager, modules):
    modules("pm_wrong_group", STORAGE_MODULE)
    manager.register(make_plugin(repository=[BackendSpec("test.wrong", "pm_wrong_group:Store", "")]), "p")
    with pytest.raises(PluginLoadError, match=r"not a subclass of AbstractRepositoryBackend"):
        manager.get_repository_backend("test.wrong")


def test_invalid_backend_name(manager):
    manager.register(make_plugin([BackendSpec("Test.Upper", "m:A", "")]), "p")
    assert manager.list_backends()[0].status.startswith("error: invalid backend name 'Test.Upper'")
    with pytest.raises(PluginLoadError, match=r"invalid backend name"):
        manager.get_storage_backend("Test.Upper")


def test_failing_hook_marks_its_plugin_and_spares_the_others(manager):
    class Failing:
        @hookimpl
        def provstore_storage_backends(self):
            raise ValueError("cannot list")

    class WrongType:
        @hookimpl
        def provstore_repository_backends(self):
            return [("test.tuple", "m:A")]

    manager.register(Failing(), "failing")
    manager.register(WrongType(), "wrong")
    manager.register(make_plugin([BackendSpec("test.ok", "json:JSONDecoder", "")]), "good")
    rows = {row.name: row for row in manager.list_backends()}
    assert rows["failing"].group == "plugin"
    assert rows["failing"].status == "error: provstore_storage_backends() failed: ValueError: cannot list"
    assert "must return BackendSpec objects" in rows["wrong"].status
    assert rows["test.ok"].status == "ok"
    assert manager.list_backends("storage") == [rows["test.ok"]]


def test_register_refuses_unknown_hooks_and_duplicate_names(manager):
    class Typo:
        @hookimpl
        def provstore_storage_backend(self):
            return []

    with pytest.raises(PluginLoadError, match=r"unknown hook.*provstore_storage_backend"):
        manager.register(Typo(), "typo")
    manager.register(make_plugin(), "p")
    with pytest.raises(PluginLoadError, match=r"already registered"):
        manager.register(make_plugin(), "p")


def test_unregister_forgets_backends(manager):
    manager.register(make_plugin([BackendSpec("test.gone", "m:A", "")]), "p")
    manager.unregister("p")
    assert manager.list_backends() == []


def test_entry_points_of_installed_plugins_are_loaded_with_their_distribution():
    rows = {row.name: row for row in PluginManager(disabled="").list_backends("repository")}
    assert rows["core.sandbox"].distribution == "provstore-sandbox"
    assert rows["core.sandbox"].version == "0.1.0"


@pytest.mark.parametrize("blocked", ["sandbox", "provstore-sandbox", "Provstore_Sandbox"])
def test_disabled_plugins_by_entry_point_or_distribution_name(blocked):
    names = {row.name for row in PluginManager(disabled=f"nothing, {blocked}").list_backends()}
    assert "core.sandbox" not in names
    assert "core.diskobjectstore" in names


def test_disable_environment_variable(monkeypatch):
    monkeypatch.setenv("PROVSTORE_DISABLE_PLUGINS", "provstore-sandbox")
    reset_plugin_manager()
    try:
        assert "core.sandbox" not in {row.name for row in get_plugin_manager().list_backends()}
        with pytest.raises(PluginNotFound):
            get_plugin_manager().get_repository_backend("core.sandbox")
    finally:
        reset_plugin_manager()


def test_get_plugin_manager_is_a_cached_singleton():
    reset_plugin_manager()
    assert get_plugin_manager() is get_plugin_manager()
    first = get_plugin_manager()
    reset_plugin_manager()
    assert get_plugin_manager() is not first


def test_register_commands_adds_but_never_replaces(manager):
    class Commands:
        @hookimpl
        def provstore_register_commands(self, cli):
            cli.add_command(click.Command("extra"))
            cli.add_command(click.Command("builtin"))

    class Broken:
        @hookimpl
        def provstore_register_commands(self, cli):
            raise RuntimeError("no commands today")

    group = click.Group("root")
    builtin = click.Command("builtin")
    group.add_command(builtin)
    manager.register(Commands(), "commands")
    manager.register(Broken(), "broken")
    warnings = manager.register_commands(group)
    assert group.commands["builtin"] is builtin
    assert "extra" in group.commands
    assert sorted(warnings) == [
        "plugin 'broken' could not add its commands: RuntimeError: no commands today",
        "plugin 'commands' may not replace the command 'builtin'",
    ]
