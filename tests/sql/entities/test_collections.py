"""SQL specifics of the entity collections: batched iteration and entities built from ORM rows (behaviour: the kit)."""

from __future__ import annotations

import pytest
from provstore_sql.entities import entity_from_model

DATA = "data.core.int.Int."


def reload(storage, entity):
    """Return a fresh copy of ``entity`` read back from the database."""
    storage.get_session().expire_all()
    return getattr(storage, entity.ENTITY_NAME + "s").get(entity.pk)


def test_count_and_iteration(storage, monkeypatch):
    from provstore_sql.entities import base

    monkeypatch.setattr(base, "ITERATION_BATCH_SIZE", 3)
    nodes = [storage.nodes.create(node_type=DATA, label=str(index)).store() for index in range(7)]
    assert storage.nodes.count() == 7
    assert list(storage.nodes) == nodes
    assert [node.label for node in storage.nodes] == [str(index) for index in range(7)]


def test_entity_from_model(storage):
    node = storage.nodes.create(node_type=DATA).store()
    assert entity_from_model(storage, node.model) == node
    with pytest.raises(TypeError, match="DbSetting rows are not entities"):
        from provstore_sql.models import DbSetting

        entity_from_model(storage, DbSetting())
