"""The Python examples of ``docs/entities.md`` run in order on every backend and print what the text says."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[3] / "docs" / "entities.md"


def test_documented_examples(storage, capsys):
    first, attributes, groups, files = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    namespace = {"storage": storage}
    exec(first, namespace)
    assert capsys.readouterr().out == "{'x': 1, 'unit': 'eV'} parameters\n"
    exec(attributes, namespace)
    assert capsys.readouterr().out == "running None ['state', 'steps']\n"
    assert namespace["calc"].is_sealed
    assert storage.nodes.get(namespace["calc"].pk).attributes == {"state": "running", "sealed": True}
    exec(groups, namespace)
    assert capsys.readouterr().out == "2 ['input', '']\n"
    assert namespace["group"].nodes == [namespace["data"]]
    exec(files, namespace)
    assert capsys.readouterr().out == "['logs'] b'converged\\n'\n"
    assert namespace["first_line"] == b"converged\n"
