"""Query API at scale: JSON filters (with PostgreSQL's plans), streaming memory, and traversal, per SQL backend.

Inserts ``--nodes`` nodes whose attributes are ``{"i": i, "mod": i % 100, "tags": [...]}``; one node in
1,000 also has the key ``rare`` and the tag ``special`` (the selective filters). The last ``--dag`` nodes
form a DAG (each node has two pseudo-random inputs among the 1,000 nodes before it), the others chains
of ``--chain`` nodes. Each query is timed as the median of ``--repeat`` runs; on PostgreSQL the
``EXPLAIN ANALYZE`` plan of each filter is printed, showing whether the GIN index serves it.

Streaming: ``iterall`` over a ``--stream``-row projection, sampling the process RSS every batch; its growth
is compared with ``all()`` of the same rows (which holds them all), its rate with the raw driver's (ceiling).

    python benchmarks/query.py               # full size: 1,000,000 nodes, on core.psql_dos and core.sqlite_dos
    python benchmarks/query.py --nodes 50000 --dag 10000 --stream 10000 --backend core.sqlite_dos    # quick
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from provstore.plugins import resolve_storage_class
from provstore.storage import EntityTypes, StorageBackend
from provstore.testing.profiles import make_profile
from provstore_psql_dos.testing import ExternalPostgres, PostgresCluster
from sqlalchemy import func, select, text

BACKENDS = ("core.psql_dos", "core.sqlite_dos", "core.sqlite_temp")
RARE = 1000
"""One node in ``RARE`` carries the key ``rare`` and the tag ``special``."""
WINDOW = 1000
"""A DAG node's two inputs are pseudo-random among the ``WINDOW`` nodes before it."""


def attributes(i: int) -> dict[str, Any]:
    """Return the attributes of node ``i``."""
    document: dict[str, Any] = {"i": i, "mod": i % 100, "tags": ["even" if i % 2 == 0 else "odd", f"t{i % 10}"]}
    if i % RARE == 0:
        document["rare"] = True
        document["tags"].append("special")
    return document


def links(pks: list[int], chain: int, dag: int) -> Iterator[dict[str, Any]]:
    """Yield the links: chains of ``chain`` nodes, then a DAG over the last ``dag`` nodes (two inputs per node).

    A DAG node's inputs are pseudo-random among the ``WINDOW`` nodes before it (a wide graph a few hundred
    steps deep, like many calculations feeding on earlier results), not its predecessor (a 100,000-step chain).
    """
    kinds = ("input_calc", "create")
    first_dag = len(pks) - dag
    for i in range(first_dag - 1):
        if (i + 1) % chain:
            yield {"input_id": pks[i], "output_id": pks[i + 1], "type": kinds[i % 2], "label": f"l{i}"}
    for k in range(1, dag):
        for parent in sorted({max(0, k - 1 - (k * step) % WINDOW) for step in (7919, 104729)}):
            yield {"input_id": pks[first_dag + parent], "output_id": pks[first_dag + k], "type": "create", "label": "d"}


def populate(storage: StorageBackend, count: int, chain: int, dag: int) -> list[int]:
    """Insert the nodes and their links; return the node pks."""
    [user] = storage.bulk_insert(EntityTypes.USER, [{"email": "bench@example.org"}], allow_defaults=True)
    rows = ({"node_type": "data.bench.", "user_id": user, "attributes": attributes(i)} for i in range(count))
    pks = storage.bulk_insert(EntityTypes.NODE, rows, allow_defaults=True)
    storage.bulk_insert(EntityTypes.LINK, links(pks, chain, dag))
    return pks


def current_rss_mb() -> float:
    """Return the resident set size of this process now, in MB (Linux ``/proc/self/statm``)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def median_ms(function: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Return the median wall time of ``function`` in milliseconds and its last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def explain(storage: StorageBackend, query: Any) -> list[str]:
    """Return PostgreSQL's ``EXPLAIN ANALYZE`` plan lines of ``query.count()`` (scans and conditions only)."""
    statement, _ = query._statement()
    counted = select(func.count()).select_from(statement.subquery())
    session = storage.get_session()
    sql = str(counted.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
    escaped = sql.replace(":", "\\:")  # text() would take the ':500000' of '{"i":500000}' for a bind parameter
    plan = [row[0] for row in session.execute(text(f"EXPLAIN (ANALYZE, COSTS OFF) {escaped}"))]
    session.commit()
    keep = ("Scan", "Cond", "Filter", "Execution Time")
    return [line.strip() for line in plan if any(word in line for word in keep)]


def stream_growth(storage: StorageBackend, rows: int) -> tuple[float, float, float]:
    """Return (seconds, peak RSS growth MB) of ``iterall`` over ``rows`` projected rows, and the growth of ``all()``."""
    query = storage.query().append("node", project=["id", "attributes"]).limit(rows)
    before, peak, seen = current_rss_mb(), 0.0, 0
    start = time.perf_counter()
    for seen, _ in enumerate(query.iterall(batch_size=1000), 1):
        if seen % 1000 == 0:
            peak = max(peak, current_rss_mb() - before)
    seconds = time.perf_counter() - start
    if seen != rows:
        raise SystemExit(f"iterall returned {seen} rows, expected {rows}")
    before = current_rss_mb()
    held = query.all()
    growth = current_rss_mb() - before
    del held
    return seconds, peak, growth


def raw_stream_rate(storage: StorageBackend, rows: int) -> float:
    """Return rows/s of reading the same projection with the raw driver, 1,000 rows per fetch, JSON decoded.

    The ceiling of ``iterall``: a server-side cursor on PostgreSQL (psycopg2 decodes jsonb itself), the plain
    cursor and ``json.loads`` on SQLite.
    """
    engine = storage.get_session().get_bind()
    connection = engine.raw_connection()
    try:
        postgres = engine.dialect.name == "postgresql"
        cursor = connection.cursor("ceiling") if postgres else connection.cursor()
        start, count = time.perf_counter(), 0
        cursor.execute(f"SELECT id, attributes FROM db_dbnode LIMIT {int(rows)}")
        while batch := cursor.fetchmany(1000):
            if not postgres:
                for _, document in batch:
                    json.loads(document)
            count += len(batch)
        seconds = time.perf_counter() - start
        cursor.close()
    finally:
        connection.close()
    return count / seconds


def run(storage: StorageBackend, args: argparse.Namespace) -> None:
    """Populate ``storage``, then print every figure."""
    start = time.perf_counter()
    pks = populate(storage, args.nodes, args.chain, args.dag)
    session = storage.get_session()
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:  # what autovacuum does on its own after a while: planner statistics, GIN pending list merged
        for index in ("ix_gin_db_dbnode_attributes", "ix_gin_db_dbnode_extras"):
            session.execute(text("SELECT gin_clean_pending_list(CAST(:i AS regclass))"), {"i": index})
        session.execute(text("ANALYZE"))
        session.commit()
    print(f"   insert {args.nodes:,} nodes and their links (bulk_insert): {time.perf_counter() - start:.1f} s")

    target = args.nodes // 2
    filters = {  # the selective filters an index can serve: goal < 50 ms on PostgreSQL
        "equality attributes.i == k (1 row)": {"attributes.i": target},
        "contains {tags: [special]} (0.1%)": {"attributes": {"contains": {"tags": ["special"]}}},
        "has_key rare (0.1%)": {"attributes": {"has_key": "rare"}},
        "range attributes.i > k (100 rows)": {"attributes.i": {">": args.nodes - 101}},
    }
    for what, condition in filters.items():
        milliseconds, result = median_ms(
            lambda c=condition: storage.query().append("node", filters=c).count(), args.repeat
        )
        indexed = postgres and "range" not in what  # SQLite has no JSON index; ranges are not indexed
        goal = f"goal < 50 ms: {'met' if milliseconds < 50 else 'MISSED'}" if indexed else "no goal"
        print(f"   {what:<44} {milliseconds:8.1f} ms ({result} rows; {goal})")
        if postgres:
            for line in explain(storage, storage.query().append("node", filters=condition)):
                print(f"       | {line}")

    chain_head, chain_tail = pks[0], pks[args.chain - 1]
    dag_root, dag_last = pks[args.nodes - args.dag], pks[-1]
    walks = {
        f"descendants of a {args.chain}-node chain's head": lambda: storage.query().descendants(chain_head).count(),
        f"ancestors of a {args.chain}-node chain's tail": lambda: storage.query().ancestors(chain_tail).count(),
        f"descendants of a {args.dag:,}-node DAG's root": lambda: storage.query().descendants(dag_root).count(),
        f"ancestors of a {args.dag:,}-node DAG's last node": lambda: storage.query().ancestors(dag_last).count(),
    }
    for what, walk in walks.items():
        milliseconds, result = median_ms(walk, args.repeat)
        verdict = "met" if milliseconds < 1000 else "MISSED"
        print(f"   {what:<44} {milliseconds:8.1f} ms ({result} nodes; goal < 1 s: {verdict})")

    seconds, streamed, held = stream_growth(storage, args.stream)
    rate, ceiling = args.stream / seconds, raw_stream_rate(storage, args.stream)
    print(
        f"   iterall over {args.stream:,} rows (id, attributes): {rate:,.0f} rows/s, "
        f"peak RSS growth {streamed:.1f} MB; all() of the same rows grows RSS by {held:.1f} MB"
    )
    print(
        f"   ceiling: the raw driver reads the same rows at {ceiling:,.0f} rows/s; iterall reaches {rate / ceiling:.0%}"
    )


def main() -> None:
    """Parse the command line, run every chosen backend and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=1_000_000)
    parser.add_argument("--chain", type=int, default=1000, help="nodes per chain")
    parser.add_argument("--dag", type=int, default=100_000, help="nodes in the DAG (the last ones)")
    parser.add_argument("--stream", type=int, default=100_000, help="rows streamed by iterall")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--backend", choices=BACKENDS, action="append", help="default: core.psql_dos and core.sqlite_dos"
    )
    parser.add_argument("--dsn", help="existing PostgreSQL server (postgresql://user@host:port/db)")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.platform()}; load average {os.getloadavg()[0]:.1f}"
    )
    for backend in args.backend or BACKENDS[:2]:
        with tempfile.TemporaryDirectory(prefix="provstore-bench-") as folder:
            server, extra, name = None, {}, f"bench_{uuid.uuid4().hex[:12]}"
            if backend == "core.psql_dos":
                server = ExternalPostgres.from_dsn(args.dsn) if args.dsn else PostgresCluster().start()
                server.create_database(name)
                extra = server.storage_config(name)
            try:
                profile = make_profile(backend, folder, **extra)
                resolve_storage_class(profile).initialise(profile)
                with resolve_storage_class(profile)(profile) as storage:
                    print(f"-- {backend}")
                    run(storage, args)
            finally:
                if server is not None:
                    server.drop_database(name)
                    server.stop()


if __name__ == "__main__":
    main()
