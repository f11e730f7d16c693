"""Run by aiida-core's interpreter (not provstore's): write aiida stores and archives, import archives, dump snapshots.

Usage (``AIIDA_PATH`` must name a private folder; no broker is used)::

    python aiida_side.py write BACKEND STORAGE_CONFIG_JSON [--archive FILE]   # print the snapshot as JSON
    python aiida_side.py import ARCHIVE BACKEND STORAGE_CONFIG_JSON            # import, print the snapshot
    python aiida_side.py snapshot-archive ARCHIVE                              # read the archive in place

The snapshot is the canonical form shared with provstore's side (``snapshot.py``): entities keyed by
uuid (users by email), links and group memberships as sorted tuples of uuids, each node's files as
``{path: sha256}`` (folders as ``None``), times in UTC ISO format.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import sys
import uuid


def utc(value: datetime.datetime) -> str:
    return value.astimezone(datetime.timezone.utc).isoformat()


def new_profile(backend: str, storage_config: dict, name: str):
    from aiida.manage.configuration import create_profile, get_config, load_profile

    profile = create_profile(
        get_config(create=True),
        storage_backend=backend,
        storage_config=storage_config,
        name=name,
        email="aiida@example.org",
        first_name="Ada",
        last_name="Lovelace",
        institution="Interop",
    )
    load_profile(profile.name, allow_switch=True)
    return profile


def write_graph() -> None:
    """Store a graph holding every entity kind and every link type."""
    from aiida import orm
    from aiida.common.links import LinkType

    default = orm.User.collection.get_default()
    other = orm.User(email="other@example.org", first_name="Grace", last_name="Hopper", institution="Navy").store()
    computer = orm.Computer(
        label="localhost",
        hostname="localhost",
        description="the machine",
        transport_type="core.local",
        scheduler_type="core.direct",
    ).store()
    computer.set_shebang("#!/bin/bash")
    authinfo = orm.AuthInfo(computer, default)
    authinfo.set_auth_params({"safe_interval": 0.5})
    authinfo.store()

    nested = orm.Dict(
        {"a": {"b": [1, 2.5, {"c": None, "d": [True, False]}]}, "unicode": "Grüße ✓", "small": 1.5e-7, "n": -3}
    )
    nested.label = "nested"
    nested.description = "nested attributes"
    nested.base.extras.set_many({"tag": "x", "deep": {"list": [1, "two", {"three": 3.0}]}})
    nested.store()
    number = orm.Int(7, user=other).store()
    folder = orm.FolderData()
    folder.base.repository.put_object_from_bytes(b"alpha\n", "a.txt")
    folder.base.repository.put_object_from_bytes(b"beta" * 1000, "sub/b.bin")
    folder.base.repository.put_object_from_bytes(b"gamma", "sub/deeper/c.txt")
    folder.store()
    single = orm.SinglefileData(io.BytesIO(b"single file content\n"), filename="single.txt").store()
    plain = orm.Data()
    plain.base.attributes.set_many({"x": {"y": {"z": [None, 1, "s"]}}, "empty": {}, "float": 0.1})
    plain.store()

    work = orm.WorkflowNode(process_type="aiida.workflows:core.arithmetic.multiply_add")
    work.label = "outer"
    work.base.links.add_incoming(nested, LinkType.INPUT_WORK, "parameters")
    work.base.links.add_incoming(number, LinkType.INPUT_WORK, "x")
    work.store()
    sub = orm.WorkflowNode(process_type="aiida.workflows:core.arithmetic.add_multiply")
    sub.base.links.add_incoming(work, LinkType.CALL_WORK, "CALL")
    sub.base.links.add_incoming(folder, LinkType.INPUT_WORK, "folder")
    sub.store()
    calc = orm.CalcJobNode(computer=computer, process_type="aiida.calculations:core.arithmetic.add")
    calc.set_option("resources", {"num_machines": 1})
    calc.base.links.add_incoming(number, LinkType.INPUT_CALC, "x")
    calc.base.links.add_incoming(single, LinkType.INPUT_CALC, "file")
    calc.base.links.add_incoming(work, LinkType.CALL_CALC, "CALL")
    calc.base.repository.put_object_from_bytes(b"#!/bin/bash\necho 5\n", "_aiidasubmit.sh")
    calc.store()
    fcalc = orm.CalcFunctionNode(process_type="aiida.calculations:core.templatereplacer")
    fcalc.base.links.add_incoming(plain, LinkType.INPUT_CALC, "plain")
    fcalc.base.links.add_incoming(sub, LinkType.CALL_CALC, "CALL")
    fcalc.store()
    result = orm.Int(12)
    result.base.links.add_incoming(calc, LinkType.CREATE, "sum")
    result.store()
    retrieved = orm.FolderData()
    retrieved.base.repository.put_object_from_bytes(b"5\n", "aiida.out")
    retrieved.base.links.add_incoming(calc, LinkType.CREATE, "retrieved")
    retrieved.store()
    other_result = orm.Float(0.25)
    other_result.base.links.add_incoming(fcalc, LinkType.CREATE, "result")
    other_result.store()
    result.base.links.add_incoming(work, LinkType.RETURN, "result")
    other_result.base.links.add_incoming(sub, LinkType.RETURN, "result")
    for process in (calc, fcalc, work, sub):
        process.set_process_state("finished")
        process.set_exit_status(0)
        process.seal()

    group = orm.Group(label="interop", description="all data").store()
    group.add_nodes([nested, number, folder, single, result])
    group.base.extras.set("purpose", {"test": True})
    orm.Group(label="empty group").store()
    nested.base.comments.add("a comment on the nested dict")
    calc.base.comments.add("second comment", user=other)
    orm.Log(
        datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc),
        "aiida.orm.nodes.process",
        "REPORT",
        calc.pk,
        "a log message",
        {"exc_info": None, "levelno": 23},
    ).store()
    orm.Log(datetime.datetime.now(datetime.timezone.utc), "aiida.engine", "WARNING", work.pk, "warning", {}).store()


def _files(node) -> dict:
    files = {}

    def walk(path: str) -> None:
        for obj in node.base.repository.list_objects(path):
            child = f"{path}/{obj.name}" if path else obj.name
            if obj.file_type.name == "DIRECTORY":
                files[child] = None
                walk(child)
            else:
                files[child] = hashlib.sha256(node.base.repository.get_object_content(child, mode="rb")).hexdigest()

    walk("")
    return files


def snapshot() -> dict:
    """Return the canonical snapshot of the loaded profile (see the module docstring)."""
    from aiida import orm

    users = {
        u.email: {"first_name": u.first_name, "last_name": u.last_name, "institution": u.institution}
        for u in orm.User.collection.all()
    }
    computers = {
        c.uuid: {
            "label": c.label,
            "hostname": c.hostname,
            "description": c.description,
            "scheduler_type": c.scheduler_type,
            "transport_type": c.transport_type,
            "metadata": c.metadata,
        }
        for c in orm.Computer.collection.all()
    }
    authinfos = sorted(
        [a.user.email, a.computer.uuid, a.get_auth_params(), a.get_metadata(), a.enabled]
        for a in orm.AuthInfo.collection.all()
    )
    nodes = {}
    for node in orm.QueryBuilder().append(orm.Node).all(flat=True):
        nodes[node.uuid] = {
            "node_type": node.node_type,
            "process_type": node.process_type,
            "label": node.label,
            "description": node.description,
            "ctime": utc(node.ctime),
            "mtime": utc(node.mtime),
            "attributes": node.base.attributes.all,
            "extras": node.base.extras.all,
            "user": node.user.email,
            "computer": node.computer.uuid if node.computer else None,
            "files": _files(node),
        }
    links = sorted(
        list(row)
        for row in orm.QueryBuilder()
        .append(orm.Node, project="uuid", tag="in")
        .append(orm.Node, project="uuid", with_incoming="in", edge_project=["label", "type"])
        .all()
    )
    groups = {}
    for group in orm.Group.collection.all():
        groups[group.uuid] = {
            "label": group.label,
            "type_string": group.type_string,
            "description": group.description,
            "time": utc(group.time),
            "extras": group.base.extras.all,
            "user": group.user.email,
            "nodes": sorted(node.uuid for node in group.nodes),
        }
    comments = {
        c.uuid: {
            "node": c.node.uuid,
            "ctime": utc(c.ctime),
            "mtime": utc(c.mtime),
            "user": c.user.email,
            "content": c.content,
        }
        for c in orm.Comment.collection.all()
    }
    logs = {
        log.uuid: {
            "node": orm.load_node(log.dbnode_id).uuid,
            "time": utc(log.time),
            "loggername": log.loggername,
            "levelname": log.levelname,
            "message": log.message,
            "metadata": log.metadata,
        }
        for log in orm.Log.collection.all()
    }
    return {
        "users": users,
        "computers": computers,
        "authinfos": authinfos,
        "nodes": nodes,
        "links": links,
        "groups": groups,
        "comments": comments,
        "logs": logs,
    }


def main(argv: list[str]) -> None:
    command = argv[0]
    if command == "write":
        backend, config = argv[1], json.loads(argv[2])
        new_profile(backend, config, f"write_{uuid.uuid4().hex[:8]}")
        write_graph()
        if len(argv) > 3:
            from aiida.tools.archive import create_archive

            create_archive(None, filename=argv[3], include_authinfos=True)
    elif command == "import":
        archive, backend, config = argv[1], argv[2], json.loads(argv[3])
        new_profile(backend, config, f"import_{uuid.uuid4().hex[:8]}")
        from aiida.tools.archive import import_archive

        import_archive(archive, include_authinfos=True, create_group=False)
    elif command == "snapshot-archive":
        from aiida.manage.configuration import profile_context
        from aiida.storage.sqlite_zip.backend import SqliteZipBackend

        with profile_context(SqliteZipBackend.create_profile(argv[1]), allow_switch=True):
            json.dump(snapshot(), sys.stdout, sort_keys=True)
        return
    else:
        raise SystemExit(f"unknown command {command}")
    json.dump(snapshot(), sys.stdout, sort_keys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
