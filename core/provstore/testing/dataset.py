"""The kit's data set: a small provenance graph with tricky JSON values, and a Python oracle of the filter rules.

:func:`populate` writes it into any writable storage with ``bulk_insert`` (a read-only backend's test suite
fills a writable store with it and converts that). :meth:`Dataset.locate` finds it again in any store
holding it, by uuid, email and label, so the read tests need nothing but the public query API. The oracle
(:func:`matches`) evaluates filters on the Python rows with the semantics of ``docs/querying.md``.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from typing import Any

from provstore.storage import EntityTypes, StorageBackend

__all__ = ["GROUPS", "LINKS", "NODES", "NODE_TYPES", "SQL_INJECTION", "Dataset", "matches", "populate", "resolve"]

SQL_INJECTION = "'; DROP TABLE db_dbnode; --"
UTC = datetime.timezone.utc

NODE_TYPES = {
    "int": "data.core.int.Int.",
    "dict": "data.core.dict.Dict.",
    "calc": "process.calculation.calcjob.CalcJobNode.",
    "work": "process.workflow.workchain.WorkChainNode.",
    "weird": "database.not_data.",
}

# name -> (node type key, label, attributes, extras)
NODES: dict[str, tuple[str, str, Any, Any]] = {
    "n0": (
        "int",
        "alpha",
        {
            "x": 3,
            "s": "3",
            "f": 2.5,
            "b": True,
            "nul": None,
            "nested": {"a": {"b": [1, 2, {"c": "deep"}]}},
            "tags": ["red", "blue"],
            "u": "ünïcødé ☃",
            "sql": SQL_INJECTION,
        },
        {"score": 1, "note": "first"},
    ),
    "n1": (
        "int",
        "Alpha",
        {"x": 2, "s": "10", "f": 1, "b": False, "nested": {"a": {"b": [3]}}, "tags": ["blue"], "u": "UNICODE"},
        {"score": 2},
    ),
    "n2": (
        "dict",
        "beta",
        {"x": "3", "b": 1, "nul": 0, "nested": {"a": {"b": "not a list"}}, "tags": "red"},
        {"score": "2"},
    ),
    "n3": ("dict", "100%_done", {"x": 1.0, "s": "abc", "b": "true", "nested": {"a": None}, "tags": []}, {}),
    "n4": ("calc", "100x_done", {}, {"note": None}),
    "n5": (
        "calc",
        "gamma",
        {"matrix": [[1, 2], [3]], "x": 10, "items": [{"k": 1, "v": "a"}, {"k": 2}], "s": "b"},
        {"score": 3.5},
    ),
    "n6": ("work", "délta", {"x": True, "s": "ABC", "nested": {"a": {"b": {"0": "key zero"}}}}, {"score": None}),
    "n7": ("work", "epsilon", {"x": -5, "s": "", "f": 1e10, "tags": ["red", "red"], "sql": "x"}, {}),
    "n8": ("weird", "zeta", {"x": None, "s": "Z", SQL_INJECTION: 1}, {"score": 0}),
    "n9": ("int", "eta", None, None),
}

# (source, target, type, label): a provenance chain, a workflow around it, and a cycle of a wrong link type
LINKS = [
    ("n0", "n5", "input_calc", "x"),
    ("n5", "n1", "create", "result"),
    ("n1", "n4", "input_calc", "y"),
    ("n4", "n2", "create", "result"),
    ("n6", "n5", "call_calc", "CALL"),
    ("n6", "n1", "return", "out"),
    ("n0", "n6", "input_work", "x"),
    ("n2", "n0", "return", "loop"),  # nonsense in a valid graph, but must not make traversal loop
    ("n3", "n7", "input_work", "z"),
]

GROUPS = {"g1": ["n0", "n1", "n2"], "g2": ["n2", "n5"], "empty": []}


@dataclass
class Dataset:
    """The data set as found in one store: name -> pk maps, and the Python rows the oracle reads."""

    users: dict[str, int] = field(default_factory=dict)
    computers: dict[str, int] = field(default_factory=dict)
    nodes: dict[str, int] = field(default_factory=dict)
    groups: dict[str, int] = field(default_factory=dict)
    node_rows: dict[int, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def locate(cls, storage: StorageBackend) -> Dataset:
        """Return the pks of the data set in ``storage`` (which must hold it), found through the query API."""
        data = cls()
        emails = dict(storage.query().append("user", project=["email", "id"]).all())
        data.users = {name: emails[email] for name, email in USERS.items()}
        labels = dict(storage.query().append("computer", project=["label", "id"]).all())
        data.computers = {name: labels[name] for name in COMPUTERS}
        group_pks = dict(storage.query().append("group", project=["label", "id"]).all())
        data.groups = {name: group_pks[name] for name in GROUPS}
        by_uuid = dict(storage.query().append("node", project=["uuid", "id"]).all())
        for name, row in _node_rows(data.users, data.computers).items():
            pk = by_uuid[row["uuid"]]
            data.nodes[name] = pk
            data.node_rows[pk] = {**row, "id": pk}
        return data

    def names(self, pks: list[int]) -> list[str]:
        """Return the node names of ``pks``, sorted."""
        reverse = {pk: name for name, pk in self.nodes.items()}
        return sorted(reverse[pk] for pk in pks)

    def select(self, storage: Any, filters: dict[str, Any]) -> list[str]:
        """Return the sorted names of the nodes of ``storage`` matching ``filters``."""
        return self.names(storage.query().append("node", filters=filters, project="id").all(flat=True))

    def expected(self, filters: dict[str, Any]) -> list[str]:
        """Return the sorted names of the nodes the oracle says match ``filters``."""
        return self.names([pk for pk, row in self.node_rows.items() if matches(row, filters)])


USERS = {"ada": "ada@example.org", "bob": "bob@example.org"}
COMPUTERS = {"daint": "daint.cscs.ch", "laptop": "localhost"}


def _node_uuid(index: int) -> str:
    return f"00000000-0000-0000-0000-{index:012d}"


def _node_rows(users: dict[str, int], computers: dict[str, int]) -> dict[str, dict[str, Any]]:
    """Return the node rows by name (``user_id``/``dbcomputer_id`` from the given pks, None when unknown)."""
    rows = {}
    for index, (name, (kind, label, attributes, extras)) in enumerate(NODES.items()):
        rows[name] = {
            "uuid": _node_uuid(index),
            "node_type": NODE_TYPES[kind],
            "process_type": "aiida.calculations:x" if kind == "calc" else None,
            "label": label,
            "ctime": datetime.datetime(2024, 1, 1 + index, tzinfo=UTC),
            "attributes": attributes,
            "extras": extras,
            "user_id": users.get("ada" if index % 3 else "bob"),
            "dbcomputer_id": computers.get("daint") if kind == "calc" else None,
        }
    return rows


def populate(storage: StorageBackend) -> Dataset:
    """Insert the data set into ``storage`` with ``bulk_insert`` and return where it is."""
    user_rows = [
        {"email": USERS["ada"], "first_name": "Ada", "institution": "EPFL"},
        {"email": USERS["bob"], "first_name": "Bob", "institution": SQL_INJECTION},
    ]
    users = dict(zip(USERS, storage.bulk_insert(EntityTypes.USER, user_rows, allow_defaults=True), strict=True))
    computer_rows = [
        {"label": "daint", "hostname": COMPUTERS["daint"], "metadata": {"cores": 12}},
        {"label": "laptop", "hostname": COMPUTERS["laptop"], "metadata": {}},
    ]
    computers = dict(
        zip(COMPUTERS, storage.bulk_insert(EntityTypes.COMPUTER, computer_rows, allow_defaults=True), strict=True)
    )
    node_rows = _node_rows(users, computers)
    pks = dict(
        zip(NODES, storage.bulk_insert(EntityTypes.NODE, list(node_rows.values()), allow_defaults=True), strict=True)
    )
    link_rows = [{"input_id": pks[a], "output_id": pks[b], "type": kind, "label": label} for a, b, kind, label in LINKS]
    storage.bulk_insert(EntityTypes.LINK, link_rows)
    group_rows = [{"label": label, "user_id": users["ada"]} for label in GROUPS]
    groups = dict(zip(GROUPS, storage.bulk_insert(EntityTypes.GROUP, group_rows, allow_defaults=True), strict=True))
    members = [
        {"dbgroup_id": groups[group], "dbnode_id": pks[node]} for group, nodes in GROUPS.items() for node in nodes
    ]
    storage.bulk_insert(EntityTypes.GROUP_NODE, members)
    comments = [
        {"dbnode_id": pks["n0"], "user_id": users["bob"], "content": "looks wrong"},
        {"dbnode_id": pks["n0"], "user_id": users["ada"], "content": "fixed"},
        {"dbnode_id": pks["n5"], "user_id": users["ada"], "content": SQL_INJECTION},
    ]
    storage.bulk_insert(EntityTypes.COMMENT, comments, allow_defaults=True)
    logs = [
        {"dbnode_id": pks["n5"], "loggername": "calc", "levelname": "ERROR", "message": "boom"},
        {"dbnode_id": pks["n5"], "loggername": "calc", "levelname": "INFO", "message": "ok"},
    ]
    storage.bulk_insert(EntityTypes.LOG, logs, allow_defaults=True)
    auth = [{"aiidauser_id": users["ada"], "dbcomputer_id": computers["daint"], "auth_params": {"port": 22}}]
    storage.bulk_insert(EntityTypes.AUTHINFO, auth, allow_defaults=True)
    return Dataset.locate(storage)


# ----------------------------------------------------------------------------------------------- the oracle
MISSING = object()


def resolve(document: Any, path: str) -> Any:
    """Return the value at a dotted path (digit segments index lists only), or ``MISSING``."""
    value = document
    for segment in path.split(".") if path else []:
        if segment.isdigit():
            if not isinstance(value, list) or int(segment) >= len(value):
                return MISSING
            value = value[int(segment)]
        else:
            if not isinstance(value, dict) or segment not in value:
                return MISSING
            value = value[segment]
    return value


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: types must match (bool is not a number), numbers by value, containers deeply."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def json_contains(a: Any, b: Any) -> bool:
    """PostgreSQL ``@>`` below the top level: objects by subset of keys, lists by every element matched."""
    if isinstance(b, dict):
        return isinstance(a, dict) and all(k in a and json_contains(a[k], v) for k, v in b.items())
    if isinstance(b, list):
        return isinstance(a, list) and all(any(json_contains(x, y) for x in a) for y in b)
    return json_equal(a, b)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _like(value: str, pattern: str, insensitive: bool) -> bool:
    regex = ""
    escaped = False
    for char in pattern:
        if escaped:
            regex += re.escape(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            regex += ".*"
        elif char == "_":
            regex += "."
        else:
            regex += re.escape(char)
    if insensitive:
        value, regex = _ascii_lower(value), _ascii_lower(regex)
    return re.fullmatch(regex, value, re.DOTALL) is not None


def _ascii_lower(text: str) -> str:
    return "".join(char.lower() if char.isascii() else char for char in text)


def _compare(value: Any, op: str, operand: Any) -> bool:
    if _is_number(operand):
        if not _is_number(value):
            return False
    elif not isinstance(value, str) or not isinstance(operand, str):
        return False
    return {"<": value < operand, "<=": value <= operand, ">": value > operand, ">=": value >= operand}[op]


def matches(row: dict[str, Any], filters: dict[str, Any]) -> bool:
    """Return whether a node row satisfies ``filters`` under the documented semantics."""
    return all(_entry(row, key, value) for key, value in filters.items())


def _entry(row: dict[str, Any], key: str, value: Any) -> bool:
    if key == "and":
        return all(matches(row, item) for item in value)
    if key == "or":
        return any(matches(row, item) for item in value)
    if key == "not":
        return not matches(row, value)
    operations = value if isinstance(value, dict) else {"==": value}
    column, _, path = key.partition(".")
    if column in ("attributes", "extras"):
        found = resolve(row[column], path) if row[column] is not None else MISSING
        return all(_json_op(found, op, operand) for op, operand in operations.items())
    return all(_column_op(row[column], op, operand) for op, operand in operations.items())


def _json_op(found: Any, op: str, operand: Any) -> bool:
    present = found is not MISSING
    if op == "==":
        return present and json_equal(found, operand)
    if op == "!=":
        return not (present and json_equal(found, operand))
    if op == "in":
        return present and any(json_equal(found, item) for item in operand)
    if op == "!in":
        return not (present and any(json_equal(found, item) for item in operand))
    if op in ("<", "<=", ">", ">="):
        return present and _compare(found, op, operand)
    if op in ("like", "ilike"):
        return isinstance(found, str) and _like(found, operand, op == "ilike")
    if op == "has_key":
        return isinstance(found, dict) and operand in found
    if op == "contains":
        return present and json_contains(found, operand)
    if op == "is_null":
        return (found is MISSING or found is None) == operand
    raise AssertionError(op)


def _column_op(found: Any, op: str, operand: Any) -> bool:
    if op == "==":
        return found == operand
    if op == "!=":
        return found != operand
    if op == "in":
        return found in operand
    if op == "!in":
        return found not in operand
    if op in ("<", "<=", ">", ">="):
        return (
            found is not None
            and {"<": found < operand, "<=": found <= operand, ">": found > operand, ">=": found >= operand}[op]
        )
    if op in ("like", "ilike"):
        return found is not None and _like(found, operand, op == "ilike")
    if op == "is_null":
        return (found is None) == operand
    if op == "of_type":
        prefix = operand.rstrip(".")
        return found is not None and (found == prefix or found.startswith(prefix + "."))
    raise AssertionError(op)
