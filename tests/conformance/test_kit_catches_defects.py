"""The conformance kit catches broken backends: each deliberately broken variant fails it, the pristine one passes.

Each variant (``broken/broken_backends.py``) subclasses ``core.sqlite_temp`` or ``core.sandbox`` with one
realistic defect and is registered under ``broken.<defect>``. The whole kit runs against it in a pytest
subprocess (``-x``: the first failure is enough) over a generated test module, as an author's suite would.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

BROKEN = Path(__file__).parent / "broken"

STORAGE_CAPABILITIES = """
    persistent = False
    supports_concurrent_processes = False
    supports_concurrent_threads = False
"""
REPOSITORY_CAPABILITIES = """
    has_uuid = False
    content_addressed = False
    key_format = "uuid4"
"""

CONFTEST = f"""
import sys

sys.path.insert(0, {str(BROKEN)!r})
pytest_plugins = ["provstore.testing.fixtures"]


def pytest_configure(config):
    import broken_backends
    from provstore.plugins import get_plugin_manager, reset_plugin_manager

    reset_plugin_manager()
    get_plugin_manager().register(broken_backends, "broken")
"""


def run_kit(tmp_path: Path, kit: str, backend: str, capabilities: str, stop_at_first: bool) -> tuple[int, str]:
    """Run the kit class ``kit`` against ``backend`` in a pytest subprocess; return its exit code and output."""
    (tmp_path / "conftest.py").write_text(CONFTEST, encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = --strict-markers\n", encoding="utf-8")
    (tmp_path / "test_variant.py").write_text(
        f"from provstore.testing import {kit}\n\n\nclass TestVariant({kit}):\n"
        f"    backend = {backend!r}\n{capabilities}",
        encoding="utf-8",
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    env["PROVSTORE_CONFIG_DIR"] = str(tmp_path / "config")
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-p", "no:randomly"]
    command += ["-x"] if stop_at_first else []
    result = subprocess.run(
        [*command, "--basetemp", str(tmp_path / "basetemp"), "test_variant.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


VARIANTS = [
    ("StorageBackendTests", "broken.savepoint", STORAGE_CAPABILITIES),
    ("StorageBackendTests", "broken.linklabels", STORAGE_CAPABILITIES),
    ("StorageBackendTests", "broken.lessthan", STORAGE_CAPABILITIES),
    ("StorageBackendTests", "broken.jsontype", STORAGE_CAPABILITIES),
    ("StorageBackendTests", "broken.bulkorder", STORAGE_CAPABILITIES),
    ("StorageBackendTests", "broken.deletelinks", STORAGE_CAPABILITIES),
    ("RepositoryBackendTests", "broken.hasobjects", REPOSITORY_CAPABILITIES),
    ("RepositoryBackendTests", "broken.memorywrite", REPOSITORY_CAPABILITIES),
]


@pytest.mark.parametrize(("kit", "backend", "capabilities"), VARIANTS, ids=[backend for _, backend, _ in VARIANTS])
def test_broken_variant_fails_the_kit(tmp_path: Path, kit: str, backend: str, capabilities: str) -> None:
    code, output = run_kit(tmp_path, kit, backend, capabilities, stop_at_first=True)
    assert code == 1, f"the kit did not fail {backend} (exit {code}):\n{output[-3000:]}"
    failed = re.findall(r"^FAILED (\S+)", output, re.MULTILINE)
    assert failed, output[-3000:]
    print(f"{backend}: caught by {failed[0]}")


@pytest.mark.parametrize(
    ("kit", "backend", "capabilities"),
    [
        ("StorageBackendTests", "core.sqlite_temp", STORAGE_CAPABILITIES),
        ("RepositoryBackendTests", "core.sandbox", REPOSITORY_CAPABILITIES),
    ],
    ids=["core.sqlite_temp", "core.sandbox"],
)
def test_pristine_backend_passes_the_kit(tmp_path: Path, kit: str, backend: str, capabilities: str) -> None:
    """The same generated module on the unbroken class: no failure, so each failure above is the defect's."""
    code, output = run_kit(tmp_path, kit, backend, capabilities, stop_at_first=False)
    assert code == 0, output[-4000:]
    assert re.search(r"\d+ passed", output), output[-2000:]
    assert "failed" not in output.splitlines()[-1]
