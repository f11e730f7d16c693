"""Which provstore plugins a test run may see: those this checkout ships; every other installed one is blocked.

A developer's environment may hold third-party provstore plugins (or the example plugin of the author guide)
whose backends would show up in ``plugin list`` and whose import errors would change what the tests see.
``tests/conftest.py`` blocks them through ``PROVSTORE_DISABLE_PLUGINS`` before any plugin manager exists;
a test that installs a plugin itself (into a virtual environment of its own) is unaffected.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
from pathlib import Path

from provstore.hookspecs import ENTRY_POINT_GROUP
from provstore.plugins import DISABLE_PLUGINS_ENV

REPO = Path(__file__).resolve().parents[2]


def canonical(name: str) -> str:
    """Return the normalised form of a distribution name (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def checkout_distributions() -> set[str]:
    """Return the canonical names of the distributions of this checkout: the core and each ``plugins/*``."""
    names = {"provstore"}
    for pyproject in sorted(REPO.glob("plugins/*/pyproject.toml")):
        match = re.search(r'^name\s*=\s*"([^"]+)"', pyproject.read_text(encoding="utf-8"), re.MULTILINE)
        if match:
            names.add(canonical(match.group(1)))
    return names


def foreign_plugins() -> list[str]:
    """Return the distributions (entry-point names where there is none) of installed plugins this checkout lacks."""
    ours = checkout_distributions()
    foreign = set()
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        name = entry_point.dist.metadata["Name"] if entry_point.dist is not None else None
        if name is None or canonical(name) not in ours:
            foreign.add(name or entry_point.name)
    return sorted(foreign)


def block_foreign_plugins() -> list[str]:
    """Add :func:`foreign_plugins` to ``PROVSTORE_DISABLE_PLUGINS`` of this process (and its children); return them."""
    foreign = foreign_plugins()
    if foreign:
        current = [part for part in os.environ.get(DISABLE_PLUGINS_ENV, "").split(",") if part.strip()]
        os.environ[DISABLE_PLUGINS_ENV] = ",".join([*current, *foreign])
    return foreign
