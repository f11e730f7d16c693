"""The layers of the distributions, checked on the source (an AST scan of every import, lazy ones included).

- The core (``core/provstore``) imports no plugin package, ``provstore_sql`` included, and no SQL library.
- ``provstore.exceptions``, ``provstore.hookspecs`` and ``provstore.config`` are the foundation: they import
  nothing of provstore above them, so everything else may import them.
- Plugins (``plugins/*``, and the example in ``docs/examples``) import only public modules and names of the
  core and of ``provstore_sql``, never another plugin, and never ``provstore.plugins``: a backend is handed
  what it needs (its repository) instead of reaching the plugin registry.
- Importing any module of the core in a fresh interpreter imports neither SQLAlchemy nor alembic.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "core"
PLUGIN_PACKAGES = sorted(
    [*ROOT.glob("plugins/*/provstore_*/__init__.py"), *ROOT.glob("docs/examples/*/provstore_*/__init__.py")]
)
SQL_LIBRARIES = {"sqlalchemy", "alembic"}
SHARED = {"provstore", "provstore_sql"}
"""Top-level packages whose public API plugins may use."""

FOUNDATION = {
    "provstore.exceptions": set(),
    "provstore.hookspecs": {"provstore.exceptions"},
    "provstore.config": {"provstore.exceptions", "provstore.config"},
}
"""Foundation module (or package) -> the provstore modules (and their submodules) it may import."""


def module_name(path: Path, source_root: Path) -> str:
    """Return the dotted name of the module at ``path`` below ``source_root``."""
    parts = list(path.relative_to(source_root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(source: str, module: str, is_package: bool = False) -> Iterator[tuple[str, int]]:
    """Yield ``(imported module or module.name, line)`` of every import in ``source``, relative ones resolved.

    ``from a.b import c`` yields ``a.b.c`` (``c`` may be a module or a name: both are checked the same way).
    """
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                yield (f"{base}.{alias.name}" if alias.name != "*" else base), node.lineno


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def core_violations(module: str, source: str, is_package: bool = False) -> list[str]:
    """Return the imports of a core module that break the core's layers."""
    problems = []
    for name, line in imports(source, module, is_package):
        top = name.split(".")[0]
        if top.startswith("provstore_") or top in SQL_LIBRARIES:
            problems.append(f"{module}:{line} imports {name} (the core depends on no plugin and no SQL library)")
        for foundation, allowed in FOUNDATION.items():
            if _within(module, foundation) and _within(name, "provstore"):
                if name != "provstore" and not any(_within(name, ok) for ok in allowed):
                    problems.append(f"{module}:{line} imports {name}, above the foundation module {foundation}")
    return problems


def plugin_violations(module: str, source: str, is_package: bool = False) -> list[str]:
    """Return the imports of a plugin module that reach past the public API of the core and provstore_sql."""
    own = module.split(".")[0]
    problems = []
    for name, line in imports(source, module, is_package):
        top = name.split(".")[0]
        if _within(name, "provstore.plugins"):
            problems.append(f"{module}:{line} imports {name}: backends are handed what they need, not the registry")
        elif top.startswith("provstore_") and top != own and top not in SHARED:
            problems.append(f"{module}:{line} imports {name}, another plugin (use the core's interfaces)")
        elif top in SHARED and top != own and any(part.startswith("_") for part in name.split(".")[1:]):
            problems.append(f"{module}:{line} imports {name}, a private name of {top}")
    return problems


def _sources(package_init: Path) -> Iterator[tuple[str, str, bool]]:
    """Yield ``(module name, source, is package)`` of every module of the package at ``package_init``."""
    source_root = package_init.parent.parent
    for path in sorted(package_init.parent.rglob("*.py")):
        if "migrations" in path.relative_to(source_root).parts:  # alembic scripts: the SQL layer's own data
            continue
        yield module_name(path, source_root), path.read_text(encoding="utf-8"), path.name == "__init__.py"


def test_the_core_imports_no_plugin_and_its_foundation_nothing_above_it():
    problems = [
        problem
        for module, source, is_package in _sources(CORE / "provstore" / "__init__.py")
        for problem in core_violations(module, source, is_package)
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("package_init", PLUGIN_PACKAGES, ids=lambda path: path.parent.name)
def test_plugins_use_only_the_public_api_of_the_core_and_provstore_sql(package_init):
    problems = [
        problem
        for module, source, is_package in _sources(package_init)
        for problem in plugin_violations(module, source, is_package)
    ]
    assert not problems, "\n".join(problems)


def test_every_plugin_package_is_scanned():
    names = {path.parent.name for path in PLUGIN_PACKAGES}
    assert {"provstore_sql", "provstore_sqlite_dos", "provstore_psql_dos", "provstore_sandbox"} <= names


@pytest.mark.parametrize(
    ("check", "module", "source"),
    [
        (core_violations, "provstore.transfer.engine", "def f():\n    from provstore_sql.models import DbSetting\n"),
        (core_violations, "provstore.archive.api", "import sqlalchemy as sa\n"),
        (core_violations, "provstore.config.profile", "from provstore.plugins import get_plugin_manager\n"),
        (core_violations, "provstore.config.profile", "from ..storage import StorageBackend\n"),
        (core_violations, "provstore.exceptions", "from provstore import config\n"),
        (core_violations, "provstore.hookspecs", "from provstore.storage.abstract import StorageBackend\n"),
        (plugin_violations, "provstore_sql.backend", "from provstore.plugins import get_plugin_manager\n"),
        (plugin_violations, "provstore_psql_dos.backend", "from provstore import plugins\n"),
        (plugin_violations, "provstore_psql_dos.backend", "from provstore.storage.entities import _MISSING\n"),
        (plugin_violations, "provstore_psql_dos.backend", "from provstore_sql._private import thing\n"),
        (plugin_violations, "provstore_sqlite_dos.backend", "import provstore_diskobjectstore.loose\n"),
    ],
)
def test_the_checks_catch_a_violation(check, module, source):
    assert check(module, source)


def test_the_checks_accept_the_allowed_imports():
    assert not core_violations("provstore.config.config_file", "from .profile import Profile\nimport provstore\n")
    assert not core_violations("provstore.cli.root", "from provstore.plugins import get_plugin_manager\n")
    assert not plugin_violations("provstore_sql.query.postgresql", "from provstore_sql.query.dialects import _C\n")
    assert not plugin_violations("provstore_psql_dos.backend", "from provstore_sql.backend import SqlStorageBackend\n")


def test_importing_any_core_module_imports_no_sql_library():
    modules = [
        module
        for module, _, _ in _sources(CORE / "provstore" / "__init__.py")
        if module != "provstore.__main__"  # runs the CLI
    ]
    probe = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout.strip().splitlines()[-1]))
    assert not loaded & SQL_LIBRARIES, f"importing the core's modules imported {sorted(loaded & SQL_LIBRARIES)}"
