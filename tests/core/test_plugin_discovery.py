"""Discovery through real entry points: tiny plugin distributions installed with pip into a throwaway venv.

The venv sees the core under test (:class:`support.venvs.VirtualEnv`); the test distributions are wheels written here
(a wheel is a zip with a ``.dist-info`` folder, so no build backend or network is needed), installed
and uninstalled with pip. Every command runs the CLI in a subprocess, as a user would.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import textwrap
import zipfile
from pathlib import Path

import pytest
from support.isolation import DISABLE_PLUGINS_ENV
from support.venvs import VirtualEnv

pytestmark = [pytest.mark.venv, pytest.mark.slow]

FAKE_PLUGIN_DIR = Path(__file__).parent / "fake_plugin" / "testfake_plugin"
VERSION = "0.1.0"
RIVAL_PLUGIN = """
from provstore import hookimpl
from provstore.hookspecs import BackendSpec

@hookimpl
def provstore_storage_backends():
    return [BackendSpec("testfake.store", "testfake_rival.plugin:Nothing", "Claims a name that is taken.")]
"""
NEEDY_PLUGIN = """
from provstore import hookimpl
from provstore.hookspecs import BackendSpec

@hookimpl
def provstore_storage_backends():
    return [
        BackendSpec("needy.store", "testfake_needy.backend:NeedyStorage", "Needs a package that is not installed.",
                    requires={"definitely_missing_dep_xyz": "definitely-missing-dep-xyz"}),
        BackendSpec("core.hijack", "testfake_needy.backend:NeedyStorage", "Uses the reserved prefix."),
    ]
"""
NEEDY_BACKEND = "import definitely_missing_dep_xyz  # noqa: F401\n"
BROKEN_PLUGIN = "raise RuntimeError('this plugin is broken on purpose')\n"


def build_wheel(directory: Path, distribution: str, entry_point: str, files: dict[str, str]) -> Path:
    """Write a pure-Python wheel of ``distribution`` holding ``files`` and one ``provstore`` entry point."""
    stem = f"{distribution.replace('-', '_')}-{VERSION}"
    contents = {
        **files,
        f"{stem}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {VERSION}\n",
        f"{stem}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: provstore-tests\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
        f"{stem}.dist-info/entry_points.txt": f"[provstore]\n{entry_point}\n",
    }
    record = []
    for path, text in contents.items():
        data = text.encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{stem}.dist-info/RECORD,,")
    wheel = directory / f"{stem}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in contents.items():
            archive.writestr(path, text)
        archive.writestr(f"{stem}.dist-info/RECORD", "\n".join(record) + "\n")
    return wheel


class Venv(VirtualEnv):
    """A virtual environment seeing the provstore under test, with helpers to run pip and the CLI in it."""

    def pip(self, *args: str) -> None:
        self.check("python", "-m", "pip", "--disable-pip-version-check", "--no-input", *args, timeout=300)

    def provstore(self, *args: str, disabled: str = "") -> subprocess.CompletedProcess:
        """Run ``python -m provstore`` here, blocking ``disabled`` plugins as well as those the test run blocks."""
        variables = self.environment()
        variables[DISABLE_PLUGINS_ENV] = ",".join(filter(None, [variables[DISABLE_PLUGINS_ENV], disabled]))
        variables.pop("PROVSTORE_TRACEBACK", None)
        return self.run("python", "-m", "provstore", *args, env=variables, timeout=120)


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("wheels")
    fake_files = {f"testfake_plugin/{p.name}": p.read_text() for p in sorted(FAKE_PLUGIN_DIR.glob("*.py"))}
    return {
        "testfake-plugin": build_wheel(directory, "testfake-plugin", "testfake = testfake_plugin.plugin", fake_files),
        "testfake-rival": build_wheel(
            directory,
            "testfake-rival",
            "testfake_rival = testfake_rival.plugin",
            {"testfake_rival/__init__.py": "", "testfake_rival/plugin.py": textwrap.dedent(RIVAL_PLUGIN)},
        ),
        "testfake-needy": build_wheel(
            directory,
            "testfake-needy",
            "testfake_needy = testfake_needy.plugin",
            {
                "testfake_needy/__init__.py": "",
                "testfake_needy/plugin.py": textwrap.dedent(NEEDY_PLUGIN),
                "testfake_needy/backend.py": NEEDY_BACKEND,
            },
        ),
        "testfake-broken": build_wheel(
            directory,
            "testfake-broken",
            "testfake_broken = testfake_broken.plugin",
            {"testfake_broken/__init__.py": "", "testfake_broken/plugin.py": BROKEN_PLUGIN},
        ),
    }


@pytest.fixture(scope="module")
def venv(tmp_path_factory, wheels) -> Venv:
    environment = Venv(tmp_path_factory.mktemp("venv") / "env", see_running_packages=True)
    environment.pip("install", "--no-deps", "--no-index", "--no-build-isolation", *map(str, wheels.values()))
    return environment


def listing(venv: Venv, *args: str, disabled: str = "") -> dict[tuple[str, str], dict]:
    result = venv.provstore("plugin", "list", *args, "--json", disabled=disabled)
    assert result.returncode == 0, result.stderr
    return {(row["group"], row["name"]): row for row in json.loads(result.stdout)}


def save_profile(name: str, backend: str, config: dict) -> None:
    from provstore.config import Config, Profile

    configuration = Config.load()
    configuration.add_profile(Profile(name, {"storage": {"backend": backend, "config": config}}))
    configuration.save()


def test_plugin_list_shows_every_plugin_with_its_status(venv):
    rows = listing(venv)
    assert rows[("storage", "testfake.store")]["status"] == (
        "conflict: backend name 'testfake.store' is claimed by testfake-plugin 0.1.0 and testfake-rival 0.1.0"
    )
    needy = rows[("storage", "needy.store")]
    assert needy["status"] == "missing dependency: pip install definitely-missing-dep-xyz"
    assert (needy["distribution"], needy["version"]) == ("testfake-needy", "0.1.0")
    assert rows[("storage", "core.hijack")]["status"] == (
        "error: the prefix 'core.' of 'core.hijack' is reserved for provstore's own plugins"
    )
    broken = rows[("plugin", "testfake_broken")]
    assert broken["status"] == (
        "error: cannot import testfake_broken.plugin: RuntimeError: this plugin is broken on purpose"
    )
    assert rows[("repository", "core.sandbox")]["status"] == "ok"  # the system's plugins are unaffected


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (
            ("storage", "needy.store"),
            "backend 'needy.store' needs the module 'definitely_missing_dep_xyz', which is not installed: "
            "pip install definitely-missing-dep-xyz",
        ),
        (("testfake_broken",), "cannot import testfake_broken.plugin: RuntimeError: this plugin is broken on purpose"),
        (
            ("storage", "testfake.store"),
            "backend name 'testfake.store' is claimed by testfake-plugin 0.1.0 and testfake-rival 0.1.0",
        ),
    ],
    ids=["missing-dependency", "broken-plugin", "conflict"],
)
def test_detail_of_an_unusable_backend_carries_the_full_error_and_fails(venv, args, error):
    result = venv.provstore("plugin", "list", *args)
    assert result.returncode == 1, result.stdout
    assert f"error:        {error}" in result.stdout.splitlines(), result.stdout
    detail = venv.provstore("plugin", "list", *args, "--json")
    assert detail.returncode == 1 and json.loads(detail.stdout)["error"] == error


def test_plugin_list_table_and_group_filter(venv):
    table = venv.provstore("plugin", "list")
    assert table.returncode == 0, table.stderr
    header, *lines = table.stdout.splitlines()
    assert header.split() == ["GROUP", "NAME", "DISTRIBUTION", "VERSION", "STATUS", "DESCRIPTION"]
    assert any(line.split()[:4] == ["storage", "needy.store", "testfake-needy", "0.1.0"] for line in lines)
    assert {group for group, _ in listing(venv, "storage")} == {"storage"}


def test_conflict_is_an_error_naming_both_distributions(venv):
    save_profile("clash", "testfake.store", {"folder": "/nowhere"})
    result = venv.provstore("-p", "clash", "storage", "version")
    assert result.returncode == 1
    assert result.stderr == (
        "Error: backend name 'testfake.store' is claimed by testfake-plugin 0.1.0 and testfake-rival 0.1.0\n"
    )


def test_missing_dependency_is_an_error_naming_the_package(venv):
    save_profile("needy", "needy.store", {})
    result = venv.provstore("-p", "needy", "storage", "info")
    assert result.returncode == 1
    assert result.stderr.startswith("Error: backend 'needy.store' needs the module 'definitely_missing_dep_xyz'")
    assert result.stderr.endswith(": pip install definitely-missing-dep-xyz\n")
    assert result.stderr.count("\n") == 1


def test_disabled_plugins_vanish_and_the_rest_works(venv, tmp_path):
    disabled = "testfake-rival,testfake_broken"
    rows = listing(venv, disabled=disabled)
    assert rows[("storage", "testfake.store")]["status"] == "ok"
    assert ("plugin", "testfake_broken") not in rows
    assert not any(row["distribution"] == "testfake-rival" for row in rows.values())

    folder = tmp_path / "store"
    setup = venv.provstore(
        "profile", "setup", "testfake.store", "--profile-name", "fake", "--folder", str(folder),
        "--port", "7", "--password", "s3cret", "--admin-password", "adm1n", disabled=disabled,
    )  # fmt: skip
    assert setup.returncode == 0, setup.stderr
    assert json.loads((folder / "state.json").read_text()) == {"version": "2"}
    assert json.loads((folder / "setup.json").read_text()) == {"admin_password_given": True}
    shown = venv.provstore("profile", "show", "fake", disabled=disabled)
    assert shown.returncode == 0, shown.stderr
    assert "s3cret" not in shown.stdout and "adm1n" not in shown.stdout
    assert json.loads(shown.stdout)["storage"]["config"]["password"] == "****"
    hello = venv.provstore("testfake-hello", disabled=disabled)
    assert (hello.returncode, hello.stdout) == (0, "hello from testfake\n")


def test_uninstalled_plugin_disappears_and_its_profile_fails_clearly(venv, wheels, tmp_path):
    save_profile("orphan", "testfake.store", {"folder": str(tmp_path)})
    venv.pip("uninstall", "--yes", "testfake-plugin")
    try:
        rows = listing(venv)
        assert ("storage", "testfake.store") in rows  # the rival still claims it, now alone
        assert rows[("storage", "testfake.store")]["distribution"] == "testfake-rival"
        rows = listing(venv, disabled="testfake-rival")
        assert ("storage", "testfake.store") not in rows
        result = venv.provstore("-p", "orphan", "storage", "version", disabled="testfake-rival")
        assert result.returncode == 1
        assert result.stderr.startswith("Error: no storage backend named 'testfake.store' is installed")
        assert "Traceback" not in result.stderr
    finally:
        venv.pip("install", "--no-deps", "--no-index", str(wheels["testfake-plugin"]))
