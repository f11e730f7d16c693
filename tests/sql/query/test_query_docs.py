"""The Python examples of ``docs/querying.md`` run on every backend and return what the text says."""

from __future__ import annotations

import re
from pathlib import Path

from provstore.storage import EntityTypes

DOC = Path(__file__).resolve().parents[3] / "docs" / "querying.md"


def _examples() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)


def test_documented_examples_run_and_answer_correctly(storage, capsys):
    """The three examples run: low-energy outputs, the filter dict and a traversal joined to groups."""
    user = storage.bulk_insert(EntityTypes.USER, [{"email": "doc@example.org"}], allow_defaults=True)[0]
    rows = [
        {"node_type": "process.calculation.calcjob.CalcJobNode.", "label": "calc", "attributes": {}},
        {"node_type": "data.core.dict.Dict.", "label": "Si bulk", "attributes": {"energy": -2.0, "kind": "relax"}},
        {"node_type": "data.core.dict.Dict.", "label": "Si slab", "attributes": {"energy": -1.0, "kind": "relax"}},
        {"node_type": "data.core.dict.Dict.", "label": "draft", "attributes": {"energy": -3, "tags": ["draft"]}},
        {"node_type": "data.core.dict.Dict.", "label": "Ge", "attributes": {"energy": -4, "kind": "relax"}},
    ]
    calc, bulk, slab, draft, germanium = storage.bulk_insert(
        EntityTypes.NODE, [{**row, "user_id": user} for row in rows], allow_defaults=True
    )
    links = [{"input_id": calc, "output_id": pk, "type": "create", "label": f"o{pk}"} for pk in (bulk, slab, draft)]
    storage.bulk_insert(EntityTypes.LINK, links)
    storage.bulk_update(EntityTypes.NODE, [{"id": germanium, "extras": {"reviewed": True}}])
    group = storage.bulk_insert(EntityTypes.GROUP, [{"label": "relaxed", "user_id": user}], allow_defaults=True)[0]
    storage.bulk_insert(EntityTypes.GROUP_NODE, [{"dbgroup_id": group, "dbnode_id": bulk}])

    first, filters, traversal = _examples()
    namespace = {"storage": storage}
    exec(first, namespace)
    assert capsys.readouterr().out.split("\n")[:2] == [f"{draft} -3", f"{bulk} -2.0"]

    exec(filters, namespace)
    selected = storage.query().append("node", filters=namespace["filters"], project="id").all(flat=True)
    assert sorted(selected) == [bulk, slab, germanium]

    namespace["pk"] = calc
    exec(traversal, namespace)
    assert namespace["pks"] == []
    assert namespace["qb"].all() == [(bulk, "Si bulk", "relaxed")]


def test_every_section_of_the_documentation_is_checked_by_the_kit():
    """Each section heading of docs/querying.md names kit tests in the kit's DOC_COVERAGE checklist."""
    from provstore.testing.storage.query_contract import DOC_COVERAGE

    headings = re.findall(r"^#{2,3} (.+)$", DOC.read_text(encoding="utf-8"), re.MULTILINE)
    sections = [heading.replace("`", "") for heading in headings]
    assert sorted(sections) == sorted(DOC_COVERAGE)
