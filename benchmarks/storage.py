"""Storage throughput: ``bulk_insert`` of nodes and links against a raw ceiling, peak memory, and deletes.

Usage::

    python benchmarks/storage.py --backend core.sqlite_dos       # full size: 1,000,000 nodes + 1,000,000 links
    python benchmarks/storage.py --backend core.psql_dos         # (throwaway cluster, or --dsn postgresql://...)
    python benchmarks/storage.py --backend core.sqlite_dos --nodes 50000 --deletes 5000 10000 --stores 500
    python benchmarks/storage.py --backend core.sqlite_dos --exclusive-load   # the explicit load mode
    python benchmarks/storage.py --backend core.sqlite_dos --gc-tuning        # opted in, as the CLI is

Rows are generators (nodes carry ~200-byte JSON attributes; links chain the nodes), consumed by
``bulk_insert`` in batches, so the peak RSS of this process (printed, ``ru_maxrss``) must stay bounded
whatever ``--nodes`` is. The ceiling, measured in the same run right after each ``bulk_insert`` call (the
machine's load changes within a minute on a shared machine: the two timings of a ratio are taken side by side),
is the plain way of writing the same rows with the raw driver:

- SQLite: serialise and one ``executemany`` into a bare table with the same columns (no index), same pragmas;
- PostgreSQL: serialise to COPY text and ``COPY`` into a plain table with the same columns (see ``psql_ceiling.py``).

``bulk_insert`` takes its default path unless ``--exclusive-load`` is given (then
``bulk_insert(..., exclusive_load=True)``: into the fresh tables, load mode). The garbage collector is left as
it is unless ``--gc-tuning`` opts in (:func:`provstore.gc_tuning.enable_bulk_tuning`, what the ``provstore``
command does); the ceilings run with the same setting as ``bulk_insert``
(:func:`provstore.gc_tuning.spaced_collections`).

Then ``delete_nodes_and_connections`` removes ``--deletes`` node counts (disjoint ranges, each in its own
transaction) and the time per 100,000 nodes is printed for each: linear cost means a flat curve.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import platform
import resource
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from provstore.gc_tuning import bulk_tuning_enabled, enable_bulk_tuning, spaced_collections
from provstore.plugins import resolve_storage_class
from provstore.storage import EntityTypes, StorageBackend
from provstore.testing.profiles import make_profile

NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


def node_rows(count: int, user_id: int) -> Iterator[dict[str, Any]]:
    """Yield ``count`` complete node rows (every column but ``id``) with ~200 bytes of JSON attributes."""
    for i in range(count):
        yield {
            "uuid": str(uuid.uuid4()),
            "node_type": "data.core.Dict.",
            "process_type": None,
            "label": f"node {i}",
            "description": "",
            "ctime": NOW,
            "mtime": NOW,
            "attributes": {
                "value": i,
                "unit": "eV",
                "kind": "total_energy",
                "label": f"sample {i:07d}",
                "tags": ["relaxed", f"t{i % 10}"],
                "parameters": {"cutoff": 520.0, "kpoints": [4, 4, 4], "smearing": "gaussian"},
                "converged": True,
            },
            "extras": {},
            "repository_metadata": {},
            "dbcomputer_id": None,
            "user_id": user_id,
        }


def link_rows(pks: list[int]) -> Iterator[dict[str, Any]]:
    """Yield one link per node after the first, from the node before it: a chain through every node."""
    for source, target in itertools.pairwise(pks):
        yield {"input_id": source, "output_id": target, "label": "result", "type": "create"}


def peak_rss_mb() -> float:
    """Return the RSS high-water mark of this process in MB (Linux reports ``ru_maxrss`` in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bulk_seconds(
    storage: StorageBackend, entity_type: EntityTypes, rows: Iterable[dict[str, Any]], exclusive_load: bool = False
) -> tuple[float, list[int]]:
    """Return the seconds ``bulk_insert`` takes for ``rows`` (``exclusive_load`` as given) and the new pks."""
    start = time.perf_counter()
    pks = storage.bulk_insert(entity_type, rows, exclusive_load=exclusive_load)
    return time.perf_counter() - start, pks


def sqlite_ceiling_seconds(rows: Iterable[dict[str, Any]], database: str, pragmas: dict[str, str]) -> float:
    """Return the seconds to serialise ``rows`` and ``executemany`` them into a bare SQLite table (no index).

    Serialisation is timed too (any store has to do it), done the cheapest plain way: by column position.
    """
    iterator = iter(rows)
    first = next(iterator)
    columns = list(first)
    convert = [
        json.dumps if isinstance(value, dict) else _sqlite_time if isinstance(value, datetime.datetime) else None
        for value in first.values()
    ]
    connection = sqlite3.connect(database, isolation_level=None)
    for name, value in pragmas.items():
        connection.execute(f"PRAGMA {name}={value}")
    connection.execute(f"CREATE TABLE bare (id INTEGER PRIMARY KEY, {', '.join(columns)})")
    sql = f"INSERT INTO bare ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    values = (
        tuple(value if fn is None else fn(value) for fn, value in zip(convert, row.values(), strict=True))
        for row in itertools.chain([first], iterator)
    )
    with spaced_collections():  # as bulk_insert: the ratio is not about the garbage collector
        start = time.perf_counter()
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(sql, values)
        connection.execute("COMMIT")
        seconds = time.perf_counter() - start
    connection.close()
    return seconds


def _sqlite_time(value: datetime.datetime) -> str:
    return value.isoformat(" ")


def delete_curve(storage: StorageBackend, pks: list[int], counts: list[int]) -> list[tuple[int, float]]:
    """Delete ``counts`` nodes (disjoint ranges of ``pks``, one transaction each); return (count, seconds) pairs."""
    if sum(counts) > len(pks):
        raise SystemExit(f"--deletes total {sum(counts)} exceeds the {len(pks)} nodes inserted")
    curve, first = [], 0
    for count in counts:
        chosen = pks[first : first + count]
        first += count
        start = time.perf_counter()
        with storage.transaction():
            storage.delete_nodes_and_connections(chosen)
        curve.append((count, time.perf_counter() - start))
    return curve


def store_rate(storage: StorageBackend, count: int) -> float:
    """Return nodes/s of ``count`` single ``nodes.create(...).store()`` calls (one transaction each)."""
    start = time.perf_counter()
    for index in range(count):
        storage.nodes.create(node_type="data.core.Int.", label=f"single {index}").store()
    return count / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark on a fresh storage of the chosen backend and print the figures and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", required=True, help="storage backend, e.g. core.sqlite_dos")
    parser.add_argument("--nodes", type=int, default=1_000_000, help="node rows (and as many links) per bulk_insert")
    parser.add_argument("--deletes", type=int, nargs="*", default=[50_000, 100_000, 500_000], help="nodes per delete")
    parser.add_argument("--stores", type=int, default=1000, help="single store() calls (0: skip)")
    parser.add_argument("--dsn", help="core.psql_dos: postgresql:// URL of a server to use instead of a throwaway one")
    parser.add_argument("--exclusive-load", action="store_true", help="bulk_insert(..., exclusive_load=True)")
    parser.add_argument("--gc-tuning", action="store_true", help="opt in to the bulk garbage-collector setting")
    args = parser.parse_args(argv)
    if args.gc_tuning:
        enable_bulk_tuning()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}, {platform.platform()}; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"bulk_insert: {'exclusive_load=True (load mode)' if args.exclusive_load else 'default path'}; "
        f"garbage collector: {'bulk tuning opted in' if bulk_tuning_enabled() else 'untouched'}"
    )
    server, dbname, extra = None, f"provstore_bench_{uuid.uuid4().hex[:8]}", {}
    if args.backend == "core.psql_dos":
        from psql_ceiling import start_server

        server = start_server(args.dsn)
        server.create_database(dbname)
        extra = server.storage_config(dbname)
    try:
        with tempfile.TemporaryDirectory(prefix="provstore-bench-") as folder:
            profile = make_profile(args.backend, Path(folder), **extra)
            resolve_storage_class(profile).initialise(profile)
            with resolve_storage_class(profile)(profile) as storage:
                report(storage, args, Path(folder), server, dbname)
    finally:
        if server is not None:
            server.drop_database(dbname)
            server.stop()
    return 0


def print_ratio(kind: str, count: int, seconds: float, raw: float, ceiling_name: str) -> None:
    """Print the ceiling of ``count`` rows of ``kind`` (``raw`` seconds) and the ratio ``bulk_insert`` reached."""
    ratio = raw / seconds
    print(
        f"ceiling {kind}s ({ceiling_name}): {count:,} rows in {raw:.1f} s = {count / raw:,.0f} rows/s; "
        f"bulk_insert reaches {100 * ratio:.0f}% of it (goal >= 50%: {'met' if ratio >= 0.5 else 'MISSED'})"
    )


def report(storage: StorageBackend, args: argparse.Namespace, folder: Path, server: Any, dbname: str) -> None:
    """Measure and print every figure on the open ``storage``."""
    if args.stores:
        print(f"store(): {args.stores} single nodes = {store_rate(storage, args.stores):,.0f} nodes/s")
    [user] = storage.bulk_insert(EntityTypes.USER, [{"email": "bench@example.org"}], allow_defaults=True)
    if server is not None:
        from psql_ceiling import CopyCeiling

        copy = CopyCeiling(server, dbname)
        print(f"server: PostgreSQL {copy.version}")
        ceiling = {"node": lambda: copy.seconds("db_dbnode", node_rows(args.nodes, user))}
        ceiling["link"] = lambda: copy.seconds("db_dblink", link_rows(list(range(1, args.nodes + 1))))
        ceiling_name = "serialise + COPY into a plain table, same columns"
    else:
        in_memory = args.backend == "core.sqlite_temp"
        pragmas = {} if in_memory else {"journal_mode": "WAL", "synchronous": "NORMAL"}

        def database(kind: str) -> str:
            return ":memory:" if in_memory else str(folder / f"ceiling-{kind}.sqlite")

        ceiling = {"node": lambda: sqlite_ceiling_seconds(node_rows(args.nodes, user), database("node"), pragmas)}
        ceiling["link"] = lambda: sqlite_ceiling_seconds(
            link_rows(list(range(1, args.nodes + 1))), database("link"), pragmas
        )
        ceiling_name = "serialise + executemany into a bare table, same columns"

    print(f"peak RSS before bulk_insert: {peak_rss_mb():.0f} MB, load average {os.getloadavg()[0]:.1f}")
    seconds, pks = bulk_seconds(storage, EntityTypes.NODE, node_rows(args.nodes, user), args.exclusive_load)
    print(f"bulk_insert nodes: {args.nodes:,} rows in {seconds:.1f} s = {args.nodes / seconds:,.0f} rows/s")
    print_ratio("node", args.nodes, seconds, ceiling["node"](), ceiling_name)
    links = args.nodes - 1
    seconds, _ = bulk_seconds(storage, EntityTypes.LINK, link_rows(pks), args.exclusive_load)
    print(f"bulk_insert links: {links:,} rows in {seconds:.1f} s = {links / seconds:,.0f} rows/s")
    print_ratio("link", links, seconds, ceiling["link"](), ceiling_name)
    print(f"load average after the inserts: {os.getloadavg()[0]:.1f}")
    print(
        f"peak RSS after bulk_insert of {args.nodes:,} nodes and {links:,} links: {peak_rss_mb():.0f} MB "
        "(goal < 500 MB)"
    )
    if server is not None:
        copy.close()
    curve = delete_curve(storage, pks, args.deletes)
    for count, seconds in curve:
        print(
            f"delete_nodes_and_connections {count:,} nodes (with their links): {seconds:.1f} s = "
            f"{100_000 * seconds / count:.2f} s per 100k"
        )
    per = [seconds / count for count, seconds in curve]
    if len(per) > 1:
        print(f"delete cost per node, largest / smallest run: {max(per) / min(per):.2f} (linear: about 1)")


if __name__ == "__main__":
    sys.exit(main())
