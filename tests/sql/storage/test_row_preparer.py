"""``RowPreparer.many``: the C-level check of whole chunks agrees with checking row by row."""

from __future__ import annotations

from types import MappingProxyType

import pytest
from provstore.exceptions import IntegrityError
from provstore.storage import EntityTypes
from provstore_sql.bulk.rows import RowPreparer, table_for

LINK = table_for(EntityTypes.LINK)


def link(i: int, **changes: object) -> dict[str, object]:
    row: dict[str, object] = {"input_id": i, "output_id": i + 1, "label": "result", "type": "create"}
    row.update(changes)
    return row


def test_complete_dicts_pass_through_as_they_are():
    rows = [link(i) for i in range(5)]
    assert RowPreparer(LINK, allow_defaults=False).many(rows) is rows


def test_a_swapped_key_is_found_although_every_row_has_as_many_keys():
    rows = [link(0), link(1), {"input_id": 2, "output_id": 3, "label": "x", "kind": "create"}]
    with pytest.raises(IntegrityError, match=r"db_dblink row 2 has unknown keys: kind"):
        RowPreparer(LINK, allow_defaults=False).many(rows)


def test_row_numbers_count_across_chunks():
    prepare = RowPreparer(LINK, allow_defaults=False)
    prepare.many([link(i) for i in range(3)])
    with pytest.raises(IntegrityError, match=r"db_dblink row 4 misses keys: type"):
        prepare.many([link(3), {"input_id": 1, "output_id": 2, "label": "l"}])


def test_other_mappings_and_defaults_go_row_by_row():
    proxy = MappingProxyType(link(0))
    assert RowPreparer(LINK, allow_defaults=False).many([proxy]) == [proxy]
    nodes = RowPreparer(table_for(EntityTypes.NODE), allow_defaults=True)
    first, second = nodes.many([{"node_type": "data.", "user_id": 1}, {"node_type": "data.", "user_id": 2}])
    assert first.keys() == second.keys() == nodes.columns
    assert first["uuid"] != second["uuid"]  # a callable default, called per row


def test_not_a_mapping():
    with pytest.raises(IntegrityError, match=r"row 1 is a tuple, not a mapping"):
        RowPreparer(LINK, allow_defaults=False).many([link(0), (1, 2, "l", "t")])
