"""Cold imports stay light: importing provstore and listing plugins never imports a backend's heavy dependencies."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("sqlalchemy", "alembic", "psycopg2", "disk_objectstore")

PROBE = """
import json, sys
{code}
print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))
"""


def imported_after(code: str) -> set[str]:
    """Run ``code`` in a fresh interpreter and return the top-level modules it imported."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(code=code)], capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "code",
    [
        "import provstore",
        "import provstore.plugins, provstore.config",
        "import provstore.query; provstore.query.parse_filters(provstore.query.ENTITIES['node'], {'label': 'x'})",
        "from provstore.plugins import get_plugin_manager; get_plugin_manager().list_backends()",
        "from provstore.cli import cli; cli.main(['--version'], standalone_mode=False)",
        "from provstore.cli import cli; cli.main(['plugin', 'list'], standalone_mode=False)",
        "from provstore.cli import cli; cli.main(['plugin', 'list', '--json'], standalone_mode=False)",
    ],
)
def test_no_heavy_dependency_is_imported(code):
    modules = imported_after(code)
    assert not modules & set(HEAVY), f"{code!r} imported {sorted(modules & set(HEAVY))}"


def test_plain_import_does_not_import_pydantic_or_click():
    assert not imported_after("import provstore") & {"pydantic", "click"}
