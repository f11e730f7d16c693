"""A small data set holding every entity kind, and a backend-independent snapshot to compare two stores by."""

from __future__ import annotations

import datetime
import io
import uuid
from typing import Any

from provstore.storage import EntityTypes

UTC = datetime.timezone.utc


def populate(storage: Any, nodes: int = 30, tag: str = "a") -> None:
    """Insert users, computers, authinfos, groups, ``nodes`` nodes with files, links, comments, logs and settings."""
    repository = storage.get_repository()
    users = storage.bulk_insert(
        EntityTypes.USER,
        [
            {"email": f"{tag}-ada@example.org", "first_name": "Ada", "last_name": "L", "institution": "E"},
            {"email": "shared@example.org", "first_name": "Sam", "last_name": "S", "institution": "X"},
        ],
    )
    computers = storage.bulk_insert(
        EntityTypes.COMPUTER,
        [{"uuid": str(uuid.uuid4()), "label": f"{tag}-cluster{i}", "metadata": {"cores": i}} for i in range(2)],
        allow_defaults=True,
    )
    storage.bulk_insert(
        EntityTypes.AUTHINFO,
        [{"aiidauser_id": users[i], "dbcomputer_id": computers[i], "auth_params": {"key": i}} for i in range(2)],
        allow_defaults=True,
    )
    shared = repository.put_object_from_filelike(io.BytesIO(b"shared content"))
    rows = []
    for i in range(nodes):
        files = {"shared.txt": {"k": shared}}
        if i % 3 == 0:
            key = repository.put_object_from_filelike(io.BytesIO(f"{tag} file {i}".encode() * (i + 1)))
            files["sub"] = {"o": {f"f{i}.dat": {"k": key}}}
        rows.append(
            {
                "uuid": str(uuid.uuid4()),
                "node_type": "data.core.Int." if i % 2 else "process.calculation.job.",
                "label": f"{tag}{i}",
                "ctime": datetime.datetime(2020, 1, 1, 12, i % 60, tzinfo=UTC),
                "mtime": datetime.datetime(2021, 6, 1, 8, i % 60, tzinfo=UTC),
                "attributes": {"value": i, "nested": {"list": [i, "x", None, 1.5]}, "unicode": "ü"},
                "extras": {"tag": tag} if i % 4 else {},
                "repository_metadata": {"o": files},
                "user_id": users[i % 2],
                "dbcomputer_id": computers[0] if i % 2 == 0 else None,
            }
        )
    node_pks = storage.bulk_insert(EntityTypes.NODE, rows, allow_defaults=True)
    links = [
        {"input_id": node_pks[i], "output_id": node_pks[i + 1], "label": f"l{i}", "type": "create"}
        for i in range(0, nodes - 1, 2)
    ]
    links += [
        {"input_id": node_pks[i + 1], "output_id": node_pks[i + 2], "label": "x", "type": "input_calc"}
        for i in range(0, nodes - 2, 2)
    ]
    storage.bulk_insert(EntityTypes.LINK, links)
    groups = storage.bulk_insert(
        EntityTypes.GROUP,
        [
            {"uuid": str(uuid.uuid4()), "label": f"{tag}-g{i}", "user_id": users[0], "extras": {"i": i}}
            for i in range(2)
        ],
        allow_defaults=True,
    )
    storage.bulk_insert(
        EntityTypes.GROUP_NODE, [{"dbgroup_id": groups[i % 2], "dbnode_id": pk} for i, pk in enumerate(node_pks[:10])]
    )
    storage.bulk_insert(
        EntityTypes.COMMENT,
        [{"uuid": str(uuid.uuid4()), "dbnode_id": pk, "user_id": users[1], "content": "nice"} for pk in node_pks[:5]],
        allow_defaults=True,
    )
    storage.bulk_insert(
        EntityTypes.LOG,
        [
            {"uuid": str(uuid.uuid4()), "dbnode_id": pk, "loggername": "calc", "levelname": "INFO", "message": "ran"}
            for pk in node_pks[:7]
        ],
        allow_defaults=True,
    )
    storage.set_global_variable(f"{tag}|setting", {"answer": 42}, description="belongs to the data")


def _files(tree: dict[str, Any], repository: Any) -> dict[str, Any]:
    """Return the virtual file tree with each key replaced by the sha256 of its content (comparable across stores)."""
    result: dict[str, Any] = {}
    if "k" in tree:
        result["sha256"] = repository.get_object_hash(tree["k"])
    if "o" in tree:
        result["o"] = {name: _files(child, repository) for name, child in tree["o"].items()}
    return result


def snapshot(storage: Any) -> dict[str, Any]:
    """Return every row of ``storage`` with primary keys replaced by identities (uuid, email) and files by sha256."""
    repository = storage.get_repository()

    def rows(entity: str) -> list[dict[str, Any]]:
        return storage.query().append(entity, project="*").all(flat=True)

    users = {row["id"]: row["email"] for row in rows("user")}
    computers = {row["id"]: row["uuid"] for row in rows("computer")}
    nodes = {row["id"]: row["uuid"] for row in rows("node")}
    groups = {row["id"]: row["uuid"] for row in rows("group")}
    result: dict[str, Any] = {
        "users": {row["email"]: {k: v for k, v in row.items() if k != "id"} for row in rows("user")},
        "computers": {row["uuid"]: {k: v for k, v in row.items() if k != "id"} for row in rows("computer")},
        "authinfos": sorted(
            (users[row["aiidauser_id"]], computers[row["dbcomputer_id"]], repr(row["auth_params"]))
            for row in rows("authinfo")
        ),
    }
    node_rows = {}
    for row in rows("node"):
        entry = {k: v for k, v in row.items() if k not in ("id", "repository_metadata")}
        entry["user_id"] = users[row["user_id"]]
        entry["dbcomputer_id"] = computers.get(row["dbcomputer_id"])
        entry["files"] = _files(row["repository_metadata"], repository)
        node_rows[row["uuid"]] = entry
    result["nodes"] = node_rows
    result["groups"] = {
        row["uuid"]: {**{k: v for k, v in row.items() if k not in ("id", "user_id")}, "user": users[row["user_id"]]}
        for row in rows("group")
    }
    result["links"] = sorted(
        (nodes[i], nodes[o], label, kind)
        for i, o, label, kind in storage.query()
        .append("node", tag="i")
        .append("node", tag="o", with_incoming="i", link_project=["input_id", "output_id", "label", "type"])
        .all()
    )
    members = storage.query().append("group", tag="g", project="id").append("node", with_group="g", project="id")
    result["group_nodes"] = sorted((groups[g], nodes[n]) for g, n in members.all())
    for entity in ("comment", "log"):
        result[f"{entity}s"] = {
            row["uuid"]: {
                **{k: v for k, v in row.items() if k not in ("id", "dbnode_id", "user_id")},
                "node": nodes[row["dbnode_id"]],
                "user": users.get(row.get("user_id")),
            }
            for row in rows(entity)
        }
    return result
