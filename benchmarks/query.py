"""Benchmark the query API on each SQL backend: JSON filters, traversal and streaming over many nodes.

Inserts ``--nodes`` nodes (attributes ``{"i": i, "mod": i % 100, "tags": [...]}``) linked by create/input
links into chains of ``--chain`` nodes, then times each query (median of ``--repeat`` runs) and the rate of
``iterall`` over every node. PostgreSQL runs on a throwaway cluster started here (or ``--dsn``).

    python benchmarks/query.py                                  # 100,000 nodes, every backend
    python benchmarks/query.py --nodes 20000 --backend core.sqlite_dos
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Any

from provstore.storage import EntityTypes
from provstore.testing.postgres import ExternalPostgres, PostgresCluster
from provstore.testing.profiles import make_profile

BACKENDS = ("core.sqlite_temp", "core.sqlite_dos", "core.psql_dos")


def populate(storage: Any, count: int, chain: int) -> list[int]:
    """Insert the nodes and the provenance chains; return the node pks."""
    user = storage.bulk_insert(EntityTypes.USER, [{"email": "bench@example.org"}], allow_defaults=True)[0]
    rows = (
        {
            "node_type": "data.bench.",
            "user_id": user,
            "attributes": {"i": i, "mod": i % 100, "tags": ["even" if i % 2 == 0 else "odd", f"t{i % 10}"]},
        }
        for i in range(count)
    )
    pks = storage.bulk_insert(EntityTypes.NODE, rows, allow_defaults=True)
    kinds = ("input_calc", "create")
    links = (  # the nodes form chains of ``chain`` nodes: as many links as nodes, as in a real provenance graph
        {"input_id": pks[i], "output_id": pks[i + 1], "type": kinds[i % 2], "label": f"l{i}"}
        for i in range(count - 1)
        if (i + 1) % chain
    )
    storage.bulk_insert(EntityTypes.LINK, links)
    return pks


def timed(function: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Return the median wall time of ``function`` in milliseconds and its last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def run(storage: Any, count: int, chain: int, repeat: int) -> list[tuple[str, str]]:
    """Return (what, figure) lines for one storage."""
    start = time.perf_counter()
    pks = populate(storage, count, chain)
    session = storage.get_session()
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy import text

        for index in ("ix_gin_db_dbnode_attributes", "ix_gin_db_dbnode_extras"):  # what autovacuum would do
            session.execute(text("SELECT gin_clean_pending_list(CAST(:i AS regclass))"), {"i": index})
        session.execute(text("ANALYZE"))
        session.commit()
    lines = [("insert (bulk_insert)", f"{time.perf_counter() - start:.1f} s")]
    target = count // 2
    queries = {
        "attributes.i == k (1 row)": lambda: storage.query().append("node", filters={"attributes.i": target}).count(),
        "contains {tags: [t3]} (10%)": lambda: (
            storage.query().append("node", filters={"attributes": {"contains": {"tags": ["t3"]}}}).count()
        ),
        "attributes.i > k (100 rows)": lambda: (
            storage.query().append("node", filters={"attributes.i": {">": count - 101}}).count()
        ),
        "has_key + mod in [1,2] (2%)": lambda: (
            storage.query()
            .append("node", filters={"attributes": {"has_key": "mod"}, "attributes.mod": {"in": [1, 2]}})
            .count()
        ),
        "order by attributes.i desc, limit 10": lambda: (
            storage.query().append("node", project="id").order_by({"node": {"attributes.i": "desc"}}).limit(10).all()
        ),
        f"descendants along a {chain}-node chain": lambda: storage.query().descendants(pks[0], project="id").count(),
        "id in 10,000 pks": lambda: storage.query().append("node", filters={"id": {"in": pks[:10000]}}).count(),
    }
    for what, query in queries.items():
        milliseconds, result = timed(query, repeat)
        shown = result if isinstance(result, int) else len(result)
        lines.append((what, f"{milliseconds:8.1f} ms  ({shown} rows)"))
    start = time.perf_counter()
    streamed = sum(1 for _ in storage.query().append("node", project=["id", "attributes.i"]).iterall(batch_size=2000))
    rate = streamed / (time.perf_counter() - start)
    lines.append((f"iterall over {streamed} rows", f"{rate:,.0f} rows/s"))
    return lines


def main() -> None:
    """Parse the command line, run every chosen backend and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--chain", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--backend", choices=BACKENDS, action="append")
    parser.add_argument("--dsn", help="existing PostgreSQL server (postgresql://user@host:port/db)")
    args = parser.parse_args()
    print(f"== {args.nodes} nodes, load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores")
    for backend in args.backend or BACKENDS:
        with tempfile.TemporaryDirectory() as folder:
            server, extra = None, {}
            if backend == "core.psql_dos":
                server = ExternalPostgres.from_dsn(args.dsn) if args.dsn else PostgresCluster().start()
                name = f"bench_{uuid.uuid4().hex[:12]}"
                server.create_database(name)
                extra = server.storage_config(name)
            profile = make_profile(backend, folder, **extra)
            profile.storage_cls.initialise(profile)
            storage = profile.storage_cls(profile)
            try:
                print(f"-- {backend}")
                for what, figure in run(storage, args.nodes, args.chain, args.repeat):
                    print(f"   {what:<40} {figure}")
            finally:
                storage.close()
                if server is not None:
                    server.drop_database(name)
                    server.stop()


if __name__ == "__main__":
    main()
