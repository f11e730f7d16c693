"""docs/cli-reference.md is committed (its links work in the repository) and matches the commands."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _generator():
    spec = importlib.util.spec_from_file_location("gen_cli_reference", REPO / "scripts" / "gen_cli_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reference_is_current():
    page = (REPO / "docs" / "cli-reference.md").read_text(encoding="utf-8")
    assert page == _generator().render(), "stale: run python scripts/gen_cli_reference.py docs/cli-reference.md"


def test_pages_link_to_the_committed_reference():
    linking = [path for path in (REPO / "docs").glob("*.md") if "(cli-reference.md)" in path.read_text("utf-8")]
    assert linking, "no page links to the CLI reference"
    assert (REPO / "docs" / "cli-reference.md").is_file()


def test_help_texts_hold_no_sphinx_markup():
    """``--help`` is read in a terminal: no RST literals or roles leak from docstrings."""
    page = _generator().render()
    lines = [line for line in page.splitlines() if not line.startswith("```")]
    leaks = [line for line in lines if "``" in line or ":class:" in line or ":meth:" in line or ":func:" in line]
    assert not leaks, leaks
