"""SQL specifics of node files: the content reaches the repository before the row refers to it."""

from __future__ import annotations

import pytest

CALC = "process.calculation.job."
DATA = "data.core.folder.Folder."


@pytest.fixture(params=["unstored", "stored"])
def node(request, storage):
    node = storage.nodes.create(node_type=CALC)
    return node.store() if request.param == "stored" else node


def test_object_is_written_before_the_node_refers_to_it(node, storage, monkeypatch):
    from provstore_sql.entities import SqlNode

    def fail(self, name, value):
        raise RuntimeError("database down")

    objects_before = len(list(storage.get_repository().list_objects()))
    monkeypatch.setattr(SqlNode, "save_field", fail)
    with pytest.raises(RuntimeError):
        node.put_object_from_bytes(b"orphan", "f")
    monkeypatch.undo()
    assert node.repository_metadata == {}
    # the content reached the repository first: an orphan for maintenance, never a dangling reference
    assert len(list(storage.get_repository().list_objects())) == objects_before + 1
