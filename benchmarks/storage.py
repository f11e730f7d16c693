"""Storage throughput: single ``store()`` calls, ``bulk_insert`` of nodes and links, and a raw-driver ceiling.

Usage::

    python benchmarks/storage.py --backend core.sqlite_dos [--nodes 50000] [--stores 2000]

Prints one line per figure. For the SQLite backends the ceiling is a plain ``executemany`` of the same rows
(JSON already serialised) into a bare table with the same columns, through the same pragmas, with no
ORM, validation or indexes: ``bulk_insert`` should reach at least half of it.

For ``core.psql_dos`` the benchmark starts its own throwaway PostgreSQL cluster (or uses ``--dsn``) and the
ceiling is ``COPY`` of the same node rows into a plain table with the same columns (see ``psql_ceiling.py``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from provstore.sql.models import DbNode
from provstore.storage import EntityTypes, StorageBackend
from provstore.testing.profiles import make_profile


def node_rows(count: int, user_id: int) -> Iterator[dict[str, Any]]:
    """Yield ``count`` complete node rows (every column but ``id``)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    for index in range(count):
        yield {
            "uuid": str(uuid.uuid4()),
            "node_type": "data.core.Int.",
            "process_type": None,
            "label": f"node {index}",
            "description": "",
            "ctime": now,
            "mtime": now,
            "attributes": {"value": index, "unit": "eV"},
            "extras": {},
            "repository_metadata": {},
            "dbcomputer_id": None,
            "user_id": user_id,
        }


def link_rows(pks: list[int]) -> Iterator[dict[str, Any]]:
    """Yield one link per node, from the previous node (a chain; the first links to itself)."""
    for source, target in zip([pks[0], *pks[:-1]], pks, strict=True):
        yield {"input_id": source, "output_id": target, "label": "result", "type": "create"}


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    """Return the seconds ``action`` took and its result."""
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def bench_store(storage: StorageBackend, count: int) -> str:
    """Return the figure line for ``count`` single ``nodes.create(...).store()`` calls."""
    try:
        collection = storage.nodes
    except ImportError as exc:
        return f"store(): skipped, the entity API is not available ({exc})"

    def run() -> None:
        for index in range(count):
            collection.create(node_type="data.core.Int.", label=f"single {index}").store()

    seconds, _ = timed(run)
    return f"store(): {count} nodes in {seconds:.2f} s = {count / seconds:,.0f} nodes/s"


def raw_ceiling(rows: list[dict[str, Any]], database: str, pragmas: dict[str, str], indexed: bool = False) -> float:
    """Return rows/s of serialising ``rows`` and one ``executemany`` into a bare SQLite table (no index).

    Serialisation is timed too (any store has to do it) but done the cheapest way: by column position.
    With ``indexed`` the table also gets the indexes of ``db_dbnode`` (a reference, not the ceiling).
    """
    columns = list(rows[0])
    json_columns = {i for i, name in enumerate(columns) if isinstance(rows[0][name], dict)}
    time_columns = {i for i, name in enumerate(columns) if isinstance(rows[0][name], datetime.datetime)}
    convert = [
        json.dumps if i in json_columns else (lambda v: v.isoformat(" ")) if i in time_columns else None
        for i in range(len(columns))
    ]
    connection = sqlite3.connect(database, isolation_level=None)
    for name, value in pragmas.items():
        connection.execute(f"PRAGMA {name}={value}")
    connection.execute(f"CREATE TABLE bare (id INTEGER PRIMARY KEY, {', '.join(columns)})")
    if indexed:
        for index in DbNode.__table__.indexes:
            if index._ddl_if is None:  # the PostgreSQL-only ones are skipped, as in the real schema
                names = ", ".join(column.name for column in index.columns)
                connection.execute(f"CREATE {'UNIQUE ' if index.unique else ''}INDEX {index.name} ON bare ({names})")
        connection.execute("CREATE UNIQUE INDEX uq_uuid ON bare (uuid)")
    sql = f"INSERT INTO bare ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"

    def run() -> None:
        values = (
            tuple(value if fn is None else fn(value) for fn, value in zip(convert, row.values(), strict=True))
            for row in rows
        )
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(sql, values)
        connection.execute("COMMIT")

    seconds, _ = timed(run)
    connection.close()
    return len(rows) / seconds


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark on a fresh storage of the chosen backend and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", required=True, help="storage backend, e.g. core.sqlite_dos")
    parser.add_argument("--nodes", type=int, default=50_000, help="rows per bulk_insert (nodes, then links)")
    parser.add_argument("--stores", type=int, default=2_000, help="single store() calls")
    parser.add_argument("--repeat", type=int, default=3, help="bulk figures are the best of this many runs")
    parser.add_argument("--dsn", help="core.psql_dos: postgresql:// URL of a server to use instead of a throwaway one")
    args = parser.parse_args(argv)

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}, {platform.platform()}"
    )
    server, dbname, extra = None, f"provstore_bench_{uuid.uuid4().hex[:8]}", {}
    if args.backend == "core.psql_dos":
        from psql_ceiling import start_server

        server = start_server(args.dsn)
        server.create_database(dbname)
        extra = server.storage_config(dbname)
    with tempfile.TemporaryDirectory(prefix="provstore-bench-") as folder:
        profile = make_profile(args.backend, Path(folder), **extra)
        profile.storage_cls.initialise(profile)
        with profile.storage_cls(profile) as storage:
            copy_ceiling = None
            if server is not None:
                from psql_ceiling import CopyCeiling

                copy_ceiling = CopyCeiling(server, dbname)  # runs between the bulk_insert runs: same load
            print(bench_store(storage, args.stores))
            [user_id] = storage.bulk_insert(
                EntityTypes.USER, [{"email": "bench@example.org", "first_name": "", "last_name": "", "institution": ""}]
            )
            sqlite_rates: list[float] = []  # the SQLite ceiling runs between the bulk_insert runs: same load
            indexed_rates: list[float] = []
            in_memory = args.backend == "core.sqlite_temp"
            pragmas = {} if in_memory else {"journal_mode": "WAL", "synchronous": "NORMAL"}
            node_seconds, link_seconds = [], []
            for run in range(args.repeat):
                nodes = list(node_rows(args.nodes, user_id))  # fresh uuids every run
                seconds, pks = timed(lambda nodes=nodes: storage.bulk_insert(EntityTypes.NODE, nodes))
                node_seconds.append(seconds)
                links = list(link_rows(pks))
                link_seconds.append(timed(lambda links=links: storage.bulk_insert(EntityTypes.LINK, links))[0])
                if copy_ceiling is not None:
                    copy_ceiling.measure(nodes)
                if args.backend.startswith("core.sqlite"):
                    database = ":memory:" if in_memory else str(Path(folder) / f"ceiling{run}.sqlite")
                    sqlite_rates.append(raw_ceiling(nodes, database, pragmas))
                    database = ":memory:" if in_memory else str(Path(folder) / f"indexed{run}.sqlite")
                    indexed_rates.append(raw_ceiling(nodes, database, {**pragmas, "cache_size": -65536}, indexed=True))
            deleted = [pk for pk in storage.get_session().scalars(sa.select(DbNode.id).order_by(DbNode.id))]

            def delete_all() -> None:
                with storage.transaction():
                    storage.delete_nodes_and_connections(deleted)

            delete_seconds, _ = timed(delete_all)
            node_rate = args.nodes / min(node_seconds)
            print(f"bulk_insert nodes: {args.nodes} rows, best {min(node_seconds):.2f} s = {node_rate:,.0f} rows/s")
            print(
                f"bulk_insert links: {args.nodes} rows, best {min(link_seconds):.2f} s "
                f"= {args.nodes / min(link_seconds):,.0f} rows/s"
            )
            print(
                f"delete_nodes_and_connections: {len(deleted)} nodes with their links in {delete_seconds:.2f} s "
                f"= {len(deleted) / delete_seconds:,.0f} nodes/s"
            )

        if sqlite_rates:
            ceiling = max(sqlite_rates)
            print(
                f"ceiling (raw executemany, bare table): {ceiling:,.0f} rows/s; "
                f"bulk_insert nodes reaches {100 * node_rate / ceiling:.0f}% of it"
            )
            indexed = max(indexed_rates)
            print(
                f"reference (raw executemany, table with db_dbnode's indexes): {indexed:,.0f} rows/s; "
                f"bulk_insert nodes reaches {100 * node_rate / indexed:.0f}% of it"
            )
        if server is not None:
            print(copy_ceiling.report(node_rate))
            server.drop_database(dbname)
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
