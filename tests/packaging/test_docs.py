"""The documentation is complete where it can be checked, and the site builds without a warning."""

from __future__ import annotations

import importlib.util
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest
from provstore import hookspecs
from provstore.testing import fixtures
from provstore.testing.repository import RepositoryBackendTests
from provstore.testing.storage import StorageBackendTests
from support.venvs import REPO

GUIDE = (REPO / "docs" / "plugin-author-guide.md").read_text(encoding="utf-8")


def hook_names() -> list[str]:
    """Return the names of every hook specification provstore defines."""
    return [
        name
        for name, function in vars(hookspecs).items()
        if callable(function) and hasattr(function, f"{hookspecs.PROJECT_NAME}_spec")
    ]


def test_hookspecs_are_found() -> None:
    assert {"provstore_storage_backends", "provstore_repository_backends"} <= set(hook_names())


@pytest.mark.parametrize("hook", hook_names())
def test_every_hook_has_a_section_in_the_author_guide(hook: str) -> None:
    arguments = ", ".join(inspect.signature(getattr(hookspecs, hook)).parameters)
    heading = f"### {hook}({arguments})"
    assert heading in GUIDE.splitlines(), f"docs/plugin-author-guide.md needs a section '{heading}'"


@pytest.mark.parametrize(
    ("kit", "capability"),
    [
        (kit, name)
        for kit in (StorageBackendTests, RepositoryBackendTests)
        for name in dir(kit)
        if isinstance(getattr(kit, name), bool)
    ],
)
def test_every_capability_is_documented(kit: type, capability: str) -> None:
    assert f"| `{kit.__name__}` | `{capability}` |" in GUIDE


@pytest.mark.parametrize(
    "fixture",
    [name for name, value in vars(fixtures).items() if hasattr(value, "_fixture_function_marker")],
)
def test_every_kit_fixture_is_documented(fixture: str) -> None:
    assert re.search(rf"^\| `{fixture}` \|", GUIDE, re.MULTILINE), f"fixture {fixture} missing from the guide"


@pytest.mark.slow
def test_mkdocs_build(tmp_path: Path) -> None:
    """``mkdocs build --strict`` succeeds: no broken link, anchor, docstring reference or missing page."""
    for module in ("mkdocs", "mkdocstrings", "mkdocstrings_handlers.python"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (pip install -r requirements-dev.txt)")
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(REPO / "mkdocs.yml"), "-d", site],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    cli_page = (site / "cli-reference" / "index.html").read_text(encoding="utf-8")
    for command in ("plugin list", "presto", "profile setup", "profile list", "storage info", "storage migrate"):
        assert f"provstore {command}" in cli_page
    api_page = (site / "api-reference" / "index.html").read_text(encoding="utf-8")
    for name in ("provstore.open_storage", "provstore.storage.StorageBackend", "provstore.hookspecs.BackendSpec"):
        assert f'id="{name}"' in api_page
    assert not re.search(r":(class|meth|func|attr|data|exc):<code>", api_page), "a Sphinx role was left unrendered"
    ids = re.findall(r'id="(provstore\.[^"]+)"', api_page)
    assert len(ids) == len(set(ids)), f"documented twice: {sorted({i for i in ids if ids.count(i) > 1})}"


def _first_block(text: str, language: str) -> list[str]:
    """Return the lines of the first fenced code block of ``language`` in ``text``."""
    match = re.search(rf"^```{language}\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    assert match, f"no {language} block"
    return match.group(1).splitlines()


@pytest.mark.parametrize(
    ("language", "path"), [("toml", "pyproject.toml"), ("python", "provstore_sqlite_blobs/plugin.py")]
)
def test_author_guide_snippets_match_the_example_plugin(language: str, path: str) -> None:
    """The walk-through's files are excerpts of the real, tested example: every code line appears in it."""
    example = (REPO / "docs" / "examples" / "provstore-sqlite-blobs" / path).read_text(encoding="utf-8")
    lines = {line.strip() for line in example.splitlines()}
    for line in _first_block(GUIDE, language):
        if line.strip() and not line.strip().startswith("#"):
            assert line.strip() in lines, f"guide line not in the example's {path}: {line!r}"
