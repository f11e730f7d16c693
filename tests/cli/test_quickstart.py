"""The README's quick start, as a user runs it: presto, the example script (twice), plugin list, storage info."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

QUICKSTART = Path(__file__).parents[2] / "examples" / "quickstart.py"


@pytest.mark.slow
def test_quickstart_records_queries_and_reports_twice(provstore_script):
    for _ in range(2):
        assert provstore_script("presto", "--if-missing").returncode == 0
        run = subprocess.run([sys.executable, str(QUICKSTART)], capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        assert run.stderr == ""
    lines = run.stdout.splitlines()
    assert lines[0].startswith("Recorded run ") and lines[0].endswith("in profile 'presto' (core.sqlite_dos)")
    ancestors = lines[lines.index("Provenance of the total energy (ancestors):") + 1 :][:3]
    assert [line.split(None, 2)[1] for line in ancestors] == [
        "data.core.structure.",
        "data.core.dict.",
        "process.calculation.pw.",
    ]
    assert "  total energy: -15.83 eV" in lines
    assert any(line.endswith("log/energies.txt (39 bytes): 3 -15.83") for line in lines)
    assert lines[-1] == "Quickstart runs recorded in this profile so far: 2"

    listing = json.loads(provstore_script("plugin", "list", "--json").stdout)
    assert {"core.sqlite_dos", "core.diskobjectstore"} <= {row["name"] for row in listing}
    info = json.loads(provstore_script("storage", "info", "--json").stdout)
    assert (info["entities"]["nodes"], info["entities"]["links"], info["entities"]["groups"]) == (10, 12, 2)
