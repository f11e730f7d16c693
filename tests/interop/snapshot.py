"""The canonical snapshot of a provstore storage, in the form ``aiida_side.py`` gives for an aiida-core profile.

Entities are keyed by uuid (users by email), references are written as uuids (emails for users), links and
group memberships as sorted uuid lists, each node's files as ``{path: sha256}`` (folders ``None``) read
through the storage's repository, times as UTC ISO strings: two stores holding the same graph and files
give equal snapshots whatever their primary keys and repository keys.
"""

from __future__ import annotations

import datetime
import hashlib
from typing import Any

from provstore.storage import StorageBackend


def _utc(value: datetime.datetime) -> str:
    return value.astimezone(datetime.timezone.utc).isoformat()


def _rows(storage: StorageBackend, kind: str) -> list[dict[str, Any]]:
    return list(storage.query().append(kind, project="*").order_by({kind: ["id"]}).all(flat=True))


def _files(storage: StorageBackend, tree: dict[str, Any], prefix: str = "") -> dict[str, str | None]:
    files: dict[str, str | None] = {}
    for name, child in (tree.get("o") or {}).items():
        path = f"{prefix}{name}"
        if "k" in child:
            files[path] = hashlib.sha256(storage.get_repository().get_object_content(child["k"])).hexdigest()
        else:
            files[path] = None
            files.update(_files(storage, child, f"{path}/"))
    return files


def snapshot(storage: StorageBackend) -> dict[str, Any]:
    """Return the canonical snapshot of everything ``storage`` holds (see the module docstring)."""
    users = {row["id"]: row for row in _rows(storage, "user")}
    emails = {pk: row["email"] for pk, row in users.items()}
    computers = {row["id"]: row for row in _rows(storage, "computer")}
    computer_uuids = {pk: row["uuid"] for pk, row in computers.items()}
    nodes = _rows(storage, "node")
    node_uuids = {row["id"]: row["uuid"] for row in nodes}
    groups = _rows(storage, "group")
    members: dict[int, list[str]] = {row["id"]: [] for row in groups}
    query = storage.query().append("group", tag="g", project="id").append("node", with_group="g", project="id")
    for group_pk, node_pk in query.all():
        members[group_pk].append(node_uuids[node_pk])
    links = storage.query().append("node", tag="in")
    links.append("node", tag="out", with_incoming="in", link_project=["input_id", "output_id", "label", "type"])
    return {
        "users": {
            row["email"]: {key: row[key] for key in ("first_name", "last_name", "institution")}
            for row in users.values()
        },
        "computers": {
            row["uuid"]: {
                key: row[key]
                for key in ("label", "hostname", "description", "scheduler_type", "transport_type", "metadata")
            }
            for row in computers.values()
        },
        "authinfos": sorted(
            [
                emails[row["aiidauser_id"]],
                computer_uuids[row["dbcomputer_id"]],
                row["auth_params"],
                row["metadata"],
                row["enabled"],
            ]
            for row in _rows(storage, "authinfo")
        ),
        "nodes": {
            row["uuid"]: {
                "node_type": row["node_type"],
                "process_type": row["process_type"],
                "label": row["label"],
                "description": row["description"],
                "ctime": _utc(row["ctime"]),
                "mtime": _utc(row["mtime"]),
                "attributes": row["attributes"],
                "extras": row["extras"],
                "user": emails[row["user_id"]],
                "computer": computer_uuids.get(row["dbcomputer_id"]),
                "files": _files(storage, row["repository_metadata"] or {}),
            }
            for row in nodes
        },
        "links": sorted(
            [node_uuids[source], node_uuids[target], label, link_type]
            for source, target, label, link_type in links.all()
        ),
        "groups": {
            row["uuid"]: {
                "label": row["label"],
                "type_string": row["type_string"],
                "description": row["description"],
                "time": _utc(row["time"]),
                "extras": row["extras"],
                "user": emails[row["user_id"]],
                "nodes": sorted(members[row["id"]]),
            }
            for row in groups
        },
        "comments": {
            row["uuid"]: {
                "node": node_uuids[row["dbnode_id"]],
                "ctime": _utc(row["ctime"]),
                "mtime": _utc(row["mtime"]),
                "user": emails[row["user_id"]],
                "content": row["content"],
            }
            for row in _rows(storage, "comment")
        },
        "logs": {
            row["uuid"]: {
                "node": node_uuids[row["dbnode_id"]],
                "time": _utc(row["time"]),
                "loggername": row["loggername"],
                "levelname": row["levelname"],
                "message": row["message"],
                "metadata": row["metadata"],
            }
            for row in _rows(storage, "log")
        },
    }
