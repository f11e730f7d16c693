"""Plugin manager: discovers plugins through entry points and resolves backend names to classes lazily.

Discovery imports only the light plugin modules named by the ``provstore`` entry points; a backend's
own module (and its heavy dependencies) is imported the first time a profile uses that backend.
A plugin that fails to load is recorded with its error instead of breaking the others.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import importlib.util
import os
import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pluggy

from provstore import hookspecs
from provstore.exceptions import MissingDependency, PluginConflict, PluginError, PluginLoadError, PluginNotFound
from provstore.hookspecs import ENTRY_POINT_GROUP, PROJECT_NAME, BackendSpec

if TYPE_CHECKING:
    import click

    from provstore.config import Profile
    from provstore.repository import AbstractRepositoryBackend
    from provstore.storage import StorageBackend

__all__ = [
    "DISABLE_PLUGINS_ENV",
    "GROUPS",
    "BackendInfo",
    "PluginManager",
    "get_plugin_manager",
    "reset_plugin_manager",
    "resolve_repository_class",
    "resolve_storage_class",
]

DISABLE_PLUGINS_ENV = "PROVSTORE_DISABLE_PLUGINS"
"""Comma-separated entry-point names or distribution names of plugins not to load."""

GROUPS: dict[str, tuple[str, str]] = {
    "storage": ("provstore_storage_backends", "provstore.storage.abstract:StorageBackend"),
    "repository": ("provstore_repository_backends", "provstore.repository.abstract:AbstractRepositoryBackend"),
}
"""Backend group -> (hook returning its BackendSpecs, base class every backend of the group subclasses)."""

_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_RESERVED_PREFIX = "core."


@dataclass(frozen=True)
class BackendInfo:
    """One row of ``provstore plugin list``: a backend (or a plugin that failed to load) and its status.

    ``status`` is ``"ok"``, ``"missing dependency: pip install X"``, ``"conflict: ..."`` or
    ``"error: ..."``. A plugin module that failed to import has group ``"plugin"`` and its
    entry-point name as ``name``.
    """

    group: str
    name: str
    target: str
    description: str
    distribution: str | None
    version: str | None
    status: str


@dataclass(frozen=True)
class _Plugin:
    """A loaded (or failed) plugin: entry-point name, providing distribution and load error if any."""

    name: str
    target: str
    distribution: str | None
    version: str | None
    error: str | None = None


@dataclass(frozen=True)
class _Claim:
    """A backend spec together with the plugin that returned it."""

    spec: BackendSpec
    plugin: _Plugin


def _canonical(name: str) -> str:
    """Normalise a distribution name as PEP 503 does, so ``Provstore_Foo`` matches ``provstore-foo``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _one_line(exc: BaseException) -> str:
    """Return ``Type: first line of message`` of an exception, for one-line status and error texts."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _module_available(module: str) -> bool:
    """Return whether ``module`` can be imported, without importing it (parents of a dotted name may be)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _import_object(target: str) -> Any:
    """Import and return the object named by a ``"package.module:Attribute"`` target."""
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


class PluginManager:
    """Registry of the installed provstore plugins and the backends they provide.

    Use :func:`get_plugin_manager` for the process-wide instance; build one directly only in tests.
    """

    def __init__(self, *, load_entry_points: bool = True, disabled: str | None = None) -> None:
        """Create the registry and, unless told not to, load every plugin of the ``provstore`` entry-point group.

        :param disabled: comma-separated plugin or distribution names to block; default from the
            ``PROVSTORE_DISABLE_PLUGINS`` environment variable.
        """
        self._pm = pluggy.PluginManager(PROJECT_NAME)
        self._pm.add_hookspecs(hookspecs)
        self._plugins: dict[str, _Plugin] = {}
        self._claims: dict[str, dict[str, list[_Claim]]] | None = None
        self._classes: dict[tuple[str, str], type] = {}
        self._import_errors: dict[tuple[str, str], str] = {}
        if disabled is None:
            disabled = os.environ.get(DISABLE_PLUGINS_ENV, "")
        for name in filter(None, (part.strip() for part in disabled.split(","))):
            self._pm.set_blocked(name)
            self._pm.set_blocked(_canonical(name))
        if load_entry_points:
            self._load_entry_points()

    # ------------------------------------------------------------------------- discovery
    def _is_blocked(self, entry_point_name: str, distribution: str) -> bool:
        return self._pm.is_blocked(entry_point_name) or self._pm.is_blocked(_canonical(distribution))

    def _load_entry_points(self) -> None:
        """Import and register each plugin module; record failures instead of raising.

        ``entry_points(group=...)`` keeps the first of a distribution found twice on ``sys.path`` (as imports
        do) and reads only entry-point files: the metadata of the few plugin distributions is parsed, not
        that of every installed one (50 ms of each command's start-up with 130 distributions).
        """
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = ep.dist
            metadata = dist.metadata if dist is not None else None  # parsed once: ``dist.version`` would parse again
            dist_name = (metadata["Name"] if metadata is not None else None) or "?"
            if self._is_blocked(ep.name, dist_name):
                continue
            name = ep.name if ep.name not in self._plugins else f"{dist_name}:{ep.name}"
            plugin = _Plugin(name, ep.value, dist_name, metadata["Version"] if metadata is not None else None)
            try:
                module = ep.load()
            except Exception as exc:  # a broken plugin must not break the others
                self._plugins[name] = dataclasses.replace(plugin, error=f"cannot import {ep.value}: {_one_line(exc)}")
                continue
            self._add(module, plugin)

    def _add(self, module: object, plugin: _Plugin) -> None:
        """Register ``module`` with pluggy under ``plugin.name``, rejecting hooks that no spec declares."""
        try:
            self._pm.register(module, name=plugin.name)
        except (ValueError, pluggy.PluginValidationError) as exc:
            self._plugins[plugin.name] = dataclasses.replace(plugin, error=_one_line(exc))
            return
        unknown = sorted(caller.name for caller in self._pm.get_hookcallers(module) or [] if caller.spec is None)
        if unknown:
            self._pm.unregister(module)
            self._plugins[plugin.name] = dataclasses.replace(
                plugin, error=f"implements unknown hook(s): {', '.join(unknown)}"
            )
            return
        self._plugins[plugin.name] = plugin
        self._forget_backends()

    def _forget_backends(self) -> None:
        """Drop collected specs and resolved classes: the set of plugins changed, names must be re-checked."""
        self._claims = None
        self._classes.clear()
        self._import_errors.clear()

    def register(self, plugin: object, name: str) -> None:
        """Register a plugin module or object directly, without an entry point (for tests and embedding).

        :raises PluginLoadError: the name is taken or the object's hooks do not match the specs.
        """
        if name in self._plugins:
            raise PluginLoadError(f"a plugin named {name!r} is already registered")
        self._add(plugin, _Plugin(name, repr(plugin), None, None))
        error = self._plugins[name].error
        if error is not None:
            del self._plugins[name]
            raise PluginLoadError(f"plugin {name!r}: {error}")

    def unregister(self, name: str) -> None:
        """Remove a plugin registered under ``name`` and forget every backend it provided."""
        if self._plugins.pop(name, None) is not None and self._pm.get_plugin(name) is not None:
            self._pm.unregister(name=name)
        self._forget_backends()

    # ----------------------------------------------------------------------- collection
    def _collect(self) -> dict[str, dict[str, list[_Claim]]]:
        """Call the backend hooks of every plugin, one at a time, and group the specs by backend name."""
        if self._claims is not None:
            return self._claims
        claims: dict[str, dict[str, list[_Claim]]] = {group: {} for group in GROUPS}
        for group, (hook_name, _) in GROUPS.items():
            for impl in getattr(self._pm.hook, hook_name).get_hookimpls():
                plugin = self._plugins[impl.plugin_name]
                if plugin.error is not None:
                    continue
                try:
                    specs = list(impl.function())
                    bad = [spec for spec in specs if not isinstance(spec, BackendSpec)]
                    if bad:
                        raise TypeError(f"{hook_name} must return BackendSpec objects, got {type(bad[0]).__name__}")
                except Exception as exc:  # recorded on the plugin, shown by plugin list
                    self._plugins[plugin.name] = dataclasses.replace(
                        plugin, error=f"{hook_name}() failed: {_one_line(exc)}"
                    )
                    continue
                for spec in specs:
                    claims[group].setdefault(spec.name, []).append(_Claim(spec, plugin))
        # a plugin whose hook failed provides nothing, even in a group whose hook worked
        broken = {name for name, plugin in self._plugins.items() if plugin.error is not None}
        for group_claims in claims.values():
            for backend_name in list(group_claims):
                group_claims[backend_name] = [c for c in group_claims[backend_name] if c.plugin.name not in broken]
                if not group_claims[backend_name]:
                    del group_claims[backend_name]
        self._claims = claims
        return claims

    @staticmethod
    def _problem(claims: list[_Claim]) -> PluginError | None:
        """Return why a backend name cannot be used (a conflict or an invalid name), or None if it can."""
        spec, plugin = claims[0].spec, claims[0].plugin
        owners = sorted({_owner(claim.plugin) for claim in claims})
        if len(owners) > 1 or len({claim.spec.target for claim in claims}) > 1:
            return PluginConflict(f"backend name {spec.name!r} is claimed by {' and '.join(owners)}")
        if not _NAME_PATTERN.match(spec.name):
            return PluginLoadError(
                f"invalid backend name {spec.name!r}: use lowercase 'prefix.name' (letters, digits, _)"
            )
        if (
            spec.name.startswith(_RESERVED_PREFIX)
            and plugin.distribution is not None
            and not _canonical(plugin.distribution).startswith("provstore")
        ):
            return PluginLoadError(
                f"the prefix {_RESERVED_PREFIX!r} of {spec.name!r} is reserved for provstore's own plugins"
            )
        return None

    # ------------------------------------------------------------------------ resolution
    def get_storage_backend(self, name: str) -> type[StorageBackend]:
        """Return the storage backend class registered as ``name``, importing it on first use."""
        return self.get_backend("storage", name)

    def get_repository_backend(self, name: str) -> type[AbstractRepositoryBackend]:
        """Return the repository backend class registered as ``name``, importing it on first use."""
        return self.get_backend("repository", name)

    def get_backend(self, group: str, name: str) -> type:
        """Return the backend class of ``group`` registered as ``name``, importing it on first use (cached).

        :raises PluginNotFound: no installed plugin provides ``name`` (the message lists those that do).
        :raises PluginConflict: two distributions claim ``name``.
        :raises MissingDependency: the backend needs a package that is not installed.
        :raises PluginLoadError: the backend cannot be imported or is not a subclass of the group's base class.
        """
        if group not in GROUPS:
            raise PluginNotFound(f"unknown backend group {group!r}; use one of: {', '.join(GROUPS)}")
        cached = self._classes.get((group, name))
        if cached is not None:
            return cached
        claims = self._collect()[group].get(name)
        if claims is None:
            raise PluginNotFound(self._not_found_message(group, name))
        problem = self._problem(claims)
        if problem is not None:
            raise problem
        try:
            cls = self._import_backend(group, claims[0].spec)
        except PluginLoadError as exc:
            self._import_errors.setdefault((group, name), f"error: {exc}")
            raise
        self._classes[(group, name)] = cls
        return cls

    def _not_found_message(self, group: str, name: str) -> str:
        import difflib  # only an error message needs it, not the start-up of every command

        installed = sorted(self._collect()[group])
        message = f"no {group} backend named {name!r} is installed (installed: {', '.join(installed) or 'none'})"
        close = difflib.get_close_matches(name, installed, n=1)
        if close:
            message += f"; did you mean {close[0]!r}?"
        broken = sorted(plugin.name for plugin in self._plugins.values() if plugin.error is not None)
        if broken:
            message += f"; plugins that failed to load: {', '.join(broken)} (see 'provstore plugin list')"
        return message

    def _import_backend(self, group: str, spec: BackendSpec) -> type:
        """Import the class of ``spec`` and check it subclasses the group's base class."""
        module_name, _, attribute = spec.target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            missing = exc.name or ""
            if not missing or module_name == missing or module_name.startswith(missing + "."):
                raise PluginLoadError(f"backend {spec.name!r}: its module {module_name!r} is not installed") from exc
            top_level = missing.split(".")[0]
            package = spec.requires.get(missing) or spec.requires.get(top_level) or top_level
            self._import_errors[(group, spec.name)] = f"missing dependency: pip install {package}"
            raise MissingDependency(
                f"backend {spec.name!r} needs the module {missing!r}, which is not installed: pip install {package}"
            ) from exc
        except Exception as exc:
            raise PluginLoadError(f"backend {spec.name!r}: importing {module_name} failed: {_one_line(exc)}") from exc
        cls = getattr(module, attribute, None)
        if cls is None:
            raise PluginLoadError(f"backend {spec.name!r}: module {module_name} has no attribute {attribute!r}")
        base = _import_object(GROUPS[group][1])
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise PluginLoadError(f"backend {spec.name!r}: {spec.target} is not a subclass of {base.__name__}")
        return cls

    # --------------------------------------------------------------------------- listing
    def list_backends(self, group: str | None = None) -> list[BackendInfo]:
        """Describe every backend (and every plugin that failed to load) without importing backend modules.

        :param group: ``"storage"`` or ``"repository"`` to list only that group; None lists all,
            including plugins that failed to load (group ``"plugin"``).
        """
        rows: list[BackendInfo] = []
        for group_name, group_claims in self._collect().items():
            if group is not None and group_name != group:
                continue
            for name, claims in sorted(group_claims.items()):
                spec, plugin = claims[0].spec, claims[0].plugin
                problem = self._problem(claims)
                status = self._status(group_name, spec) if problem is None else _problem_status(problem)
                rows.append(
                    BackendInfo(
                        group_name, name, spec.target, spec.description, plugin.distribution, plugin.version, status
                    )
                )
        if group is None:
            for plugin in sorted(self._plugins.values(), key=lambda p: p.name):
                if plugin.error is not None:
                    rows.append(
                        BackendInfo(
                            "plugin",
                            plugin.name,
                            plugin.target,
                            "",
                            plugin.distribution,
                            plugin.version,
                            f"error: {plugin.error}",
                        )
                    )
        return rows

    def _status(self, group: str, spec: BackendSpec) -> str:
        """Return the status of a backend without importing it: missing requirements, import failure, or ok."""
        failure = self._import_errors.get((group, spec.name))
        if failure is not None:
            return failure
        for module, package in spec.requires.items():
            if not _module_available(module):
                return f"missing dependency: pip install {package}"
        if (group, spec.name) not in self._classes and not _module_available(spec.target.partition(":")[0]):
            return f"error: module {spec.target.partition(':')[0]!r} is not installed"
        return "ok"

    def backend_names(self, group: str) -> list[str]:
        """Return the sorted names of the backends of ``group`` that installed plugins provide."""
        return sorted(self._collect()[group])

    # ------------------------------------------------------------------------------ CLI
    def register_commands(self, cli: click.Group) -> list[str]:
        """Let each plugin add commands to ``cli``; return one warning line per plugin whose hook failed.

        A plugin may not replace a command that already exists.
        """
        warnings: list[str] = []
        for impl in self._pm.hook.provstore_register_commands.get_hookimpls():
            before = dict(cli.commands)
            try:
                impl.function(**{argument: cli for argument in impl.argnames})
            except Exception as exc:  # a broken plugin must not break the CLI
                warnings.append(f"plugin {impl.plugin_name!r} could not add its commands: {_one_line(exc)}")
            replaced = [name for name, command in before.items() if cli.commands.get(name) is not command]
            for name in replaced:
                cli.commands[name] = before[name]
                warnings.append(f"plugin {impl.plugin_name!r} may not replace the command {name!r}")
        return warnings


def _problem_status(problem: PluginError) -> str:
    """Return the ``plugin list`` status of a name problem: ``conflict: ...`` or ``error: ...``."""
    return f"{'conflict' if isinstance(problem, PluginConflict) else 'error'}: {problem}"


def _owner(plugin: _Plugin) -> str:
    """Name who provides a plugin: its distribution (with version), or the plugin name if registered directly."""
    if plugin.distribution is None:
        return f"plugin {plugin.name!r}"
    return f"{plugin.distribution} {plugin.version}"


_MANAGER: PluginManager | None = None
_MANAGER_LOCK = threading.Lock()


def get_plugin_manager() -> PluginManager:
    """Return the process-wide plugin manager, loading the installed plugins on first call."""
    global _MANAGER
    with _MANAGER_LOCK:
        if _MANAGER is None:
            _MANAGER = PluginManager()
        return _MANAGER


def reset_plugin_manager() -> None:
    """Forget the process-wide plugin manager so the next call rediscovers plugins (tests, after installs)."""
    global _MANAGER
    _MANAGER = None


def resolve_storage_class(profile: Profile) -> type[StorageBackend]:
    """Return the storage backend class the profile names, importing it on first use.

    :raises PluginNotFound: no installed plugin provides the backend (the message lists those that do).
    :raises MissingDependency: the backend needs a package that is not installed.
    :raises PluginLoadError: the backend class cannot be imported.
    """
    return get_plugin_manager().get_storage_backend(profile.storage_backend)


def resolve_repository_class(
    profile: Profile, storage_cls: type[StorageBackend] | None = None
) -> type[AbstractRepositoryBackend] | None:
    """Return the repository backend class of ``profile``, or None when its storage holds no files.

    That is the backend the profile's ``repository`` section names, else the ``default_repository_backend``
    of ``storage_cls`` (default: the profile's storage class, see :func:`resolve_storage_class`).

    :raises PluginNotFound: no installed plugin provides the backend.
    :raises PluginLoadError: the backend class cannot be imported.
    """
    name = profile.repository_backend
    if name is None:
        name = (storage_cls or resolve_storage_class(profile)).default_repository_backend
    return None if name is None else get_plugin_manager().get_repository_backend(name)
