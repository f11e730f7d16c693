"""Backends come and go with pip: build every wheel, install them into a fresh environment, remove one.

One virtual environment (no system site packages) serves the whole module and the tests run in file
order: the environment starts with ``provstore[psql]``, gets ``[sqlite]``, loses the PostgreSQL plugin,
then gets ``[all]``.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import zipfile
from email.parser import Parser
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from support.venvs import REPO, VirtualEnv

pytestmark = [pytest.mark.venv, pytest.mark.slow]

DISTRIBUTIONS = {
    "provstore": "provstore",
    "provstore-aiida": "provstore_aiida",
    "provstore-diskobjectstore": "provstore_diskobjectstore",
    "provstore-psql-dos": "provstore_psql_dos",
    "provstore-s3": "provstore_s3",
    "provstore-sandbox": "provstore_sandbox",
    "provstore-sql": "provstore_sql",
    "provstore-sqlite-dos": "provstore_sqlite_dos",
    "provstore-sqlite-temp": "provstore_sqlite_temp",
}
HEAVY = {"psycopg2", "psycopg2-binary", "disk-objectstore", "sqlalchemy", "alembic"}


def canonical(name: str) -> str:
    """Return the normalised form of a distribution name (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def wheel_metadata(wheel: Path) -> dict[str, list[str]]:
    """Return the METADATA headers of a wheel as lists of values per header."""
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [item for item in archive.namelist() if item.endswith(".dist-info/METADATA")]
        message = Parser().parsestr(archive.read(name).decode())
    return {key: message.get_all(key) or [] for key in set(message.keys())}


def runtime_requirements(wheel: Path) -> set[str]:
    """Return the canonical names of the distributions a wheel requires without any extra."""
    names = set()
    for requirement in wheel_metadata(wheel).get("Requires-Dist", []):
        if "extra ==" not in requirement:
            names.add(canonical(re.split(r"[ ;<>=!~\[(]", requirement, maxsplit=1)[0]))
    return names


def _guarded_imports(tree: ast.AST) -> set[int]:
    """Return the ids of import nodes inside ``try`` blocks that handle ImportError: optional dependencies."""
    guarded: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
            isinstance(handler.type, ast.Name) and handler.type.id in ("ImportError", "ModuleNotFoundError")
            for handler in node.handlers
        ):
            guarded.update(id(inner) for statement in node.body for inner in ast.walk(statement))
    return guarded


def imported_top_modules(wheel: Path, package: str) -> set[str]:
    """Return the top-level modules the wheel's code needs (optional imports and the pytest-based kit excepted)."""
    modules: set[str] = set()
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if not name.endswith(".py") or not name.startswith(f"{package}/") or "/testing/" in name:
                continue
            tree = ast.parse(archive.read(name))
            optional = _guarded_imports(tree)
            for node in ast.walk(tree):
                if id(node) in optional:
                    continue
                if isinstance(node, ast.Import):
                    modules.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules.add(node.module.split(".")[0])
    return modules - set(sys.stdlib_module_names) - {"__future__", package}


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the wheels of the core and of every plugin with scripts/build-wheels."""
    folder = tmp_path_factory.mktemp("wheels")
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "build-wheels"), str(folder)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return folder


@pytest.fixture(scope="module")
def wheels(wheelhouse: Path) -> dict[str, Path]:
    """Map each distribution name to its wheel file."""
    found = {canonical(path.name.split("-")[0]): path for path in wheelhouse.glob("*.whl")}
    return found


@pytest.fixture(scope="module")
def fresh_env(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> VirtualEnv:
    """A new virtual environment where ``pip install --find-links <wheels> 'provstore[psql]'`` was run."""
    env = VirtualEnv(tmp_path_factory.mktemp("venv") / "env")
    env.check("python", "-m", "pip", "install", "--quiet", "--find-links", wheelhouse, "provstore[psql]", timeout=900)
    return env


@pytest.fixture(scope="module")
def config_dir(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment variables giving the venv's commands their own configuration folder."""
    return {"PROVSTORE_CONFIG_DIR": str(tmp_path_factory.mktemp("venv_config"))}


def listed(env: VirtualEnv, config: dict[str, str]) -> dict[str, dict]:
    """Return the backends ``provstore plugin list --json`` shows in ``env``, by name."""
    result = env.check("provstore", "plugin", "list", "--json", env=config)
    return {entry["name"]: entry for entry in json.loads(result.stdout)}


def test_every_distribution_builds_a_wheel(wheels: dict[str, Path]) -> None:
    assert set(wheels) == set(DISTRIBUTIONS)


def test_core_wheel_requires_only_pluggy_click_pydantic(wheels: dict[str, Path]) -> None:
    """The core depends on no plugin and on no heavy library; the extras bring the backends."""
    requirements = runtime_requirements(wheels["provstore"])
    assert requirements == {"pluggy", "click", "pydantic"}
    extras = wheel_metadata(wheels["provstore"]).get("Provides-Extra", [])
    assert {"sqlite", "psql", "aiida", "all"} <= set(extras)


@pytest.mark.parametrize("distribution", sorted(set(DISTRIBUTIONS) - {"provstore"}))
def test_plugin_wheel_declares_what_it_imports(wheels: dict[str, Path], distribution: str) -> None:
    """A plugin depends on the core and on the third-party packages its own code imports."""
    wheel = wheels[distribution]
    requirements = runtime_requirements(wheel)
    assert "provstore" in requirements
    providers = packages_distributions()
    for module in imported_top_modules(wheel, DISTRIBUTIONS[distribution]):
        assert module in providers, f"{distribution} imports {module}, which no installed distribution provides"
        dists = {canonical(name) for name in providers[module]}
        assert dists & requirements, f"{distribution} imports {module} but does not require any of {sorted(dists)}"


def test_core_wheel_declares_what_it_imports(wheels: dict[str, Path]) -> None:
    requirements = runtime_requirements(wheels["provstore"])
    providers = packages_distributions()
    for module in imported_top_modules(wheels["provstore"], "provstore"):
        dists = {canonical(name) for name in providers.get(module, [])}
        assert dists & requirements, f"the core imports {module} but does not require any of {sorted(dists)}"


def test_extras_bring_plugins(fresh_env: VirtualEnv, config_dir: dict[str, str]) -> None:
    backends = listed(fresh_env, config_dir)
    for name in ("core.psql_dos", "core.diskobjectstore"):
        assert backends[name]["status"] == "ok", backends[name]
    # only what the psql extra brings
    for name in ("core.sqlite_dos", "core.sqlite_temp", "core.sandbox"):
        assert name not in backends


def test_presto_without_the_embedded_backend_names_what_to_install(
    fresh_env: VirtualEnv, config_dir: dict[str, str]
) -> None:
    result = fresh_env.run("provstore", "presto", env=config_dir)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "provstore[sqlite]" in lines[0]


def test_sqlite_extra_brings_the_embedded_default(
    fresh_env: VirtualEnv, wheelhouse: Path, config_dir: dict[str, str]
) -> None:
    fresh_env.check("python", "-m", "pip", "install", "--quiet", "--find-links", wheelhouse, "provstore[sqlite]")
    backends = listed(fresh_env, config_dir)
    for name in ("core.sqlite_dos", "core.sqlite_temp", "core.sandbox"):
        assert backends[name]["status"] == "ok", backends[name]


def test_installed_from_wheels_not_the_source_tree(fresh_env: VirtualEnv) -> None:
    script = "import provstore, provstore_sql.migrations as m, importlib.resources as r; print(provstore.__file__); "
    script += "print('\\n'.join(sorted(p.name for p in r.files(m).iterdir())))"
    script += "; print('\\n'.join(sorted(p.name for p in r.files(m).joinpath('versions').iterdir())))"
    lines = fresh_env.check("python", "-c", script).stdout.split()
    assert Path(lines[0]).is_relative_to(fresh_env.path)
    assert "env.py" in lines
    revisions = [name for name in lines if re.match(r"\w+\.py$", name) and name not in {"__init__.py", "env.py"}]
    assert revisions, f"no alembic revision scripts inside the installed wheel: {lines}"


def test_presto_and_storage_info_from_wheels(fresh_env: VirtualEnv, config_dir: dict[str, str]) -> None:
    fresh_env.check("provstore", "presto", env=config_dir)
    info = fresh_env.check("provstore", "storage", "info", env=config_dir)
    assert info.stdout.strip()


def test_uninstalled_plugin_disappears_and_its_profile_fails_cleanly(
    fresh_env: VirtualEnv, config_dir: dict[str, str]
) -> None:
    add_profile = (
        "from provstore.config import Config, Profile; config = Config.load(); "
        "config.add_profile(Profile('pg', {'storage': {'backend': 'core.psql_dos', 'config': "
        "{}}})); config.save(); print(config.path)"
    )
    config_file = Path(fresh_env.check("python", "-c", add_profile, env=config_dir).stdout.strip())
    before = config_file.read_bytes()

    fresh_env.check("python", "-m", "pip", "uninstall", "--yes", "provstore-psql-dos")
    backends = listed(fresh_env, config_dir)
    assert "core.psql_dos" not in backends
    assert backends["core.sqlite_dos"]["status"] == "ok"

    result = fresh_env.run("provstore", "--profile", "pg", "storage", "info", env=config_dir)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "core.psql_dos" in lines[0]
    assert "core.sqlite_dos" in lines[0]  # the error lists what is installed
    assert "Traceback" not in result.stderr
    assert config_file.read_bytes() == before


def test_all_extra_brings_every_builtin_backend(
    fresh_env: VirtualEnv, wheelhouse: Path, config_dir: dict[str, str]
) -> None:
    fresh_env.check("python", "-m", "pip", "install", "--quiet", "--find-links", wheelhouse, "provstore[all]")
    backends = listed(fresh_env, config_dir)
    for name in ("core.psql_dos", "core.sqlite_dos", "core.sqlite_temp", "core.sandbox", "core.diskobjectstore"):
        assert backends[name]["status"] == "ok", backends[name]
