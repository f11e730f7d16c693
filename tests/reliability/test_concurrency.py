"""Concurrency: 8 writer processes and a reader on one profile; nothing committed is lost, no state is half seen.

Every write transaction stores a calculation node, a data node with a file, a ``create`` link between
them and an ``input_calc`` link from the writer's previous data node. The reader checks, in single
statements (one snapshot each), that every data node it sees has its creating calculation and its file.
Full maintenance must refuse to start while the writers have the profile open; live maintenance
(packing the files written so far) runs meanwhile.
"""

from __future__ import annotations

import json
import time

import pytest
from provstore.exceptions import LockedProfileError

from reliability.checks import assert_consistent, labels, reopen
from reliability.children import start_child
from reliability.figures import record

pytestmark = pytest.mark.slow

WRITERS = 8
OPERATIONS = 12
"""Write transactions per writer."""

WRITER = """
import pathlib
worker = sys.argv[3]
storage = resolve_storage_class(profile)(profile)
pathlib.Path(MARKER + "." + worker).touch()  # open: holds the shared profile lock from here on
go = pathlib.Path(MARKER + ".go")
while not go.exists():
    time.sleep(0.01)
previous = None
for op in range(OPERATIONS):
    with storage.transaction():
        calc = storage.nodes.create(node_type="process.calculation.job.", label=f"w{worker}-{op}").store()
        data = storage.nodes.create(node_type="data.core.folder.FolderData.", label=f"w{worker}-{op}")
        data.put_object_from_bytes(f"content w{worker}-{op}".encode(), "out.txt")
        data.store()
        data.add_incoming(calc, "create", "result")
        if previous is not None:
            calc.add_incoming(previous, "input_calc", "previous")
    previous = data
storage.close()
print("done")
""".replace("OPERATIONS", str(OPERATIONS))

READER = """
import pathlib
import sqlalchemy as sa
from provstore_sql import models

storage = resolve_storage_class(profile)(profile)
node, link = models.DbNode.__table__, models.DbLink.__table__
created = sa.select(sa.func.count()).where(link.c.output_id == node.c.id, link.c.type == "create").scalar_subquery()
creates = sa.select(sa.func.count()).where(link.c.input_id == node.c.id, link.c.type == "create").scalar_subquery()
snapshot = sa.select(node.c.node_type, node.c.label, node.c.repository_metadata, created, creates)
stop = pathlib.Path(MARKER + ".stop")
checks, violations, most = 0, [], 0
while not stop.exists() and len(violations) < 5:
    session = storage.get_session()
    rows = session.execute(snapshot).all()  # one statement: one consistent snapshot
    session.commit()
    data = {label: tree for node_type, label, tree, incoming, _ in rows if node_type.startswith("data.")}
    calcs = {label for node_type, label, _, _, outgoing in rows if node_type.startswith("process.")}
    for node_type, label, tree, incoming, outgoing in rows:
        if node_type.startswith("data.") and incoming != 1:
            violations.append(f"data node {label} seen with {incoming} creating links")
        if node_type.startswith("process.") and outgoing != 1:
            violations.append(f"calculation {label} seen with {outgoing} created nodes")
    if set(data) != calcs:
        violations.append(f"data and calculation labels differ: {sorted(set(data) ^ calcs)[:3]}")
    keys = [tree["o"]["out.txt"]["k"] for tree in data.values()]
    if not all(storage.get_repository().has_objects(keys)):
        violations.append("a committed data node refers to a missing file")
    qb = storage.query()
    qb.append("node", tag="calc", filters={"node_type": {"of_type": "process.calculation"}}, project="label")
    qb.append("node", with_incoming="calc", link_filters={"type": "create"}, project="label")
    pairs = qb.all()
    if any(a != b for a, b in pairs) or len(pairs) < most:
        violations.append(f"query saw {len(pairs)} calculation/data pairs after {most}, or mismatched labels")
    most = max(most, len(pairs))
    checks += 1
    time.sleep(0.02)
storage.close()
print(json.dumps({"checks": checks, "violations": violations, "most": most}))
"""


def test_eight_writers_and_a_reader(durable_profile, tmp_path):
    """Every committed transaction is there afterwards and the reader never saw half of one."""
    storage = reopen(durable_profile)
    storage.default_user  # noqa: B018 - create the default user once, before the writers race for it
    marker = tmp_path / "concurrency"
    writers = [start_child(durable_profile, WRITER, marker, str(n)) for n in range(WRITERS)]
    reader = start_child(durable_profile, READER, marker)
    try:
        deadline = time.monotonic() + 120
        while not all((tmp_path / f"concurrency.{n}").exists() for n in range(WRITERS)):
            assert all(writer.poll() is None for writer in writers), "a writer died before opening the storage"
            assert time.monotonic() < deadline, "writers did not open the storage in time"
            time.sleep(0.05)
        with pytest.raises(LockedProfileError, match="in use by another process"):
            storage.maintain(full=True)
        (tmp_path / "concurrency.go").touch()
        time.sleep(0.5)
        with pytest.raises(LockedProfileError):
            storage.maintain(full=True)  # also refused while they write
        storage.maintain()  # live maintenance (packing loose objects) is allowed meanwhile
        results = [writer.communicate(timeout=240) for writer in writers]
    finally:
        (tmp_path / "concurrency.stop").touch()
        for writer in writers:
            if writer.poll() is None:
                writer.kill()
    reader_out, reader_err = reader.communicate(timeout=120)
    for writer, (out, err) in zip(writers, results, strict=True):
        assert writer.returncode == 0 and out.strip() == "done", err
        assert "database is locked" not in err
    assert reader.returncode == 0, reader_err
    seen = json.loads(reader_out)
    assert seen["violations"] == []
    assert seen["checks"] > 0
    record("concurrent write transactions committed", WRITERS * OPERATIONS)
    record("concurrent reader consistency checks", seen["checks"])

    try:
        expected = {f"w{n}-{op}": 2 for n in range(WRITERS) for op in range(OPERATIONS)}
        present = labels(storage)
        record("committed records checked after concurrent writes", 2 * len(expected))
        record("committed records lost", sum(max(0, count - present[label]) for label, count in expected.items()))
        assert present == expected
        info = storage.get_info()["entities"]
        assert info["links"] == WRITERS * OPERATIONS + WRITERS * (OPERATIONS - 1)
        assert_consistent(storage)
        qb = storage.query()
        qb.append("node", filters={"node_type": {"of_type": "data"}, "label": "w7-11"}, project="uuid")
        assert storage.nodes.get(uuid=qb.one()[0]).get_object_content("out.txt") == b"content w7-11"
        storage.maintain(full=True)  # nobody else uses the profile now
        assert storage.get_unreferenced_keyset() == set()
    finally:
        storage.close()
