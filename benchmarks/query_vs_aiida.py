"""Counting nodes by a JSON range filter on PostgreSQL: provstore's ``core.psql_dos`` beside aiida-core's and raw SQL.

Both stores hold the same N nodes (default 52,000) in databases of one server, their attributes
``{"x": i, "name": "n<i>", "mod": i % 7, "tags": [...], "f": i / 3}``; both are VACUUM ANALYZEd. One worker
process per store stays up; turn by turn (who goes first rotating), each contestant runs a small batch of warm
counts, so that a change of load on the shared machine weighs on all alike:

- provstore: ``storage.query().append("node", filters={"attributes.x": {">": K}}).count()``;
- aiida-core: ``QueryBuilder().append(Node, filters={"attributes.x": {">": K}}).count()``;
- the ceilings, in provstore's worker: psycopg2 running hand-written SQL for the same count with the same
  semantics (only a number greater than K matches), and an unguarded cast as a floor.

Ratios are medians over the turns of batch median against batch median. It then prints EXPLAIN (ANALYZE,
BUFFERS) of the SQL each store sends (provstore's from its compile path, aiida-core's from ``qb.as_sql``).

    python benchmarks/query_vs_aiida.py --aiida-python /work/venvs/aiida/bin/python
    python benchmarks/query_vs_aiida.py --nodes 5200 --turns 5                     # quick, provstore only
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

FLOOR = "no type test (fails on a string x: a floor)"


def threshold_of(nodes: int) -> int:
    """Return K of the filter ``attributes.x > K``: 25,000 for 52,000 nodes (issue 19), in proportion otherwise."""
    return nodes * 25 // 52


CEILINGS = {
    "SQL/JSON predicate": "SELECT count(*) FROM db_dbnode WHERE (attributes @@ 'strict $.x > {k}') IS TRUE",
    "CASE on jsonb_typeof, numeric cast": (
        "SELECT count(*) FROM db_dbnode WHERE CASE WHEN jsonb_typeof(attributes -> 'x') = 'number' "
        "THEN (attributes ->> 'x')::numeric > {k} ELSE false END"
    ),
    "jsonb_typeof and jsonb comparison": (
        "SELECT count(*) FROM db_dbnode WHERE jsonb_typeof(attributes -> 'x') = 'number' "
        "AND attributes -> 'x' > to_jsonb({k})"
    ),
    FLOOR: "SELECT count(*) FROM db_dbnode WHERE (attributes ->> 'x')::numeric > {k}",
}
"""Hand-written SQL for the count: all but ``FLOOR`` with the documented semantics (only numbers compare with a number).

``FLOOR`` casts without looking at the type (a string ``x`` would stop it with an error): a bound, not a ceiling.
"""


def attributes(i: int) -> dict[str, Any]:
    """Return the attributes of node ``i``."""
    return {"x": i, "name": f"n{i}", "mod": i % 7, "tags": ["even" if i % 2 == 0 else "odd"], "f": i / 3}


# ------------------------------------------------------------------------------------------------ workers
def _provstore_storage(args: argparse.Namespace) -> Any:
    """Open the provstore store set up by the driver."""
    from provstore.plugins import resolve_storage_class
    from provstore.testing.profiles import make_profile
    from provstore_psql_dos.testing import ExternalPostgres

    server = ExternalPostgres.from_dsn(args.dsn)
    profile = make_profile("core.psql_dos", args.folder, **server.storage_config(args.dbname))
    return resolve_storage_class(profile)(profile)


def _aiida_storage(args: argparse.Namespace) -> Any:
    """Load the aiida-core profile set up by the ``aiida-setup`` task and return its storage."""
    from aiida import load_profile
    from aiida.manage import get_manager

    load_profile(args.profile, allow_switch=True)
    return get_manager().get_profile_storage()


def _provstore_sql(storage: Any, threshold: int) -> str:
    """Return the SQL provstore sends for the count, literals inlined (its compile path, as the count runs it)."""
    query = storage.query().append("node", filters={"attributes.x": {">": threshold}})
    statement = query._count_statement()
    with storage.connection() as connection:
        return str(statement.compile(connection, compile_kwargs={"literal_binds": True}))


def _aiida_sql(threshold: int) -> str:
    """Return the SQL aiida-core sends for the count, literals inlined."""
    from aiida.orm import Node, QueryBuilder

    builder = QueryBuilder().append(Node, filters={"attributes.x": {">": threshold}})
    inner = builder.as_sql(inline=True).rstrip().rstrip(";").replace("%%", "%")  # as_sql escapes % for pyformat
    return f"SELECT count(*) FROM ({inner}) AS counted"


def worker_setup_aiida(args: argparse.Namespace) -> None:
    """Create the aiida-core profile (no broker) on database ``args.dbname`` and insert the nodes."""
    from aiida.manage.configuration import create_profile, get_config
    from aiida.orm.entities import EntityTypes

    server = json.loads(args.server)
    storage_config = {
        "database_hostname": server["host"],
        "database_port": server["port"],
        "database_username": server["user"],
        "database_password": server["password"] or "",
        "database_name": args.dbname,
        "repository_uri": Path(args.folder, "aiida-repository").as_uri(),
    }
    config = get_config(create=True)
    create_profile(
        config,
        storage_backend="core.psql_dos",
        storage_config=storage_config,
        name=args.profile,
        email="bench@example.org",
    )
    config.store()
    storage = _aiida_storage(args)
    user = storage.default_user.pk
    rows = [{"node_type": "data.core.bench.", "user_id": user, "attributes": attributes(i)} for i in range(args.nodes)]
    storage.bulk_insert(EntityTypes.NODE, rows, allow_defaults=True)
    print(json.dumps({}))


def _contestants(args: argparse.Namespace) -> dict[str, Callable[[], int]]:
    """Return the counts this worker can run by name: aiida-core's, or provstore's and the hand-written ceilings."""
    threshold = args.threshold
    if args.kind == "aiida":
        from aiida.orm import Node, QueryBuilder

        _aiida_storage(args)
        return {"aiida": lambda: QueryBuilder().append(Node, filters={"attributes.x": {">": threshold}}).count()}
    from provstore_psql_dos.testing import ExternalPostgres

    storage = _provstore_storage(args)
    connection = ExternalPostgres.from_dsn(args.dsn).connect(args.dbname)
    connection.autocommit = True
    cursor = connection.cursor()

    def raw(sql: str) -> Callable[[], int]:
        def run() -> int:
            cursor.execute(sql)
            return cursor.fetchone()[0]

        return run

    contestants = {
        "provstore": lambda: storage.query().append("node", filters={"attributes.x": {">": threshold}}).count()
    }
    return {**contestants, **{f"ceiling: {name}": raw(sql.format(k=threshold)) for name, sql in CEILINGS.items()}}


def worker_serve(args: argparse.Namespace) -> None:
    """Answer the driver: for each ``[name, times]`` line (JSON) on stdin, run that count so often; print the ms."""
    contestants = _contestants(args)
    results = {name: function() for name, function in contestants.items()}  # warm, and all must agree
    if len(set(results.values())) != 1:
        raise SystemExit(f"the counts differ: {results}")
    print(json.dumps({"names": list(contestants), "rows": next(iter(results.values()))}), flush=True)
    for line in sys.stdin:
        (name, repeat), times = json.loads(line), []
        for _ in range(repeat):
            start = time.perf_counter()
            contestants[name]()
            times.append((time.perf_counter() - start) * 1000)
        print(json.dumps(times), flush=True)


def worker_explain(args: argparse.Namespace) -> None:
    """Print (as JSON) the SQL the store sends and PostgreSQL's EXPLAIN (ANALYZE, BUFFERS) of it."""
    if args.kind == "aiida":  # aiida-core's venv has psycopg (3), not psycopg2 nor provstore
        import psycopg

        _aiida_storage(args)
        sql = _aiida_sql(args.threshold)
        connection = psycopg.connect(args.dsn.rsplit("/", 1)[0] + "/" + args.dbname)
    else:
        from provstore_psql_dos.testing import ExternalPostgres

        storage = _provstore_storage(args)
        sql = _provstore_sql(storage, args.threshold)
        storage.close()
        connection = ExternalPostgres.from_dsn(args.dsn).connect(args.dbname)
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)  # no parameters: the driver leaves % alone
        plan = [row[0] for row in cursor.fetchall()]
    connection.close()
    print(json.dumps({"sql": sql, "plan": plan}))


def worker(args: argparse.Namespace) -> None:
    """Run one task in this process."""
    {"aiida-setup": worker_setup_aiida, "serve": worker_serve, "explain": worker_explain}[args.worker](args)


# ------------------------------------------------------------------------------------------------- driver
class Driver:
    """Sets up both stores' workers, lets the counts take turns batch by batch and prints the medians."""

    def __init__(self, args: argparse.Namespace, folder: Path, dsn: str) -> None:
        self.args = args
        self.folder = folder
        self.dsn = dsn
        self.pythons = {"provstore": sys.executable}
        if args.aiida_python:
            self.pythons["aiida"] = args.aiida_python
        self.env = {**os.environ, "AIIDA_PATH": str(folder / "aiida-config")}
        self.times: dict[str, list[list[float]]] = {}
        """Contestant -> the times of each of its batches (ms), batches in turn order."""

    def command(self, kind: str, task: str, dbname: str, **extra: str) -> list[str]:
        """Return the command line of a worker task of ``kind``."""
        command = [self.pythons[kind], __file__, "--worker", task, "--kind", kind, "--dsn", self.dsn]
        command += ["--dbname", dbname, "--folder", str(self.folder / kind), "--profile", "qbench"]
        command += ["--nodes", str(self.args.nodes), "--threshold", str(self.args.threshold)]
        for key, value in extra.items():
            command += [f"--{key}", value]
        return command

    def call(self, kind: str, task: str, dbname: str, **extra: str) -> dict[str, Any]:
        """Run one worker task of ``kind`` to its end and return the JSON it prints last."""
        done = subprocess.run(
            self.command(kind, task, dbname, **extra), capture_output=True, text=True, env=self.env, check=False
        )
        if done.returncode:
            raise SystemExit(f"{kind} {task} failed:\n{done.stderr[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    def run_turns(self, databases: dict[str, str]) -> None:
        """Start one serving worker per store; then, turn by turn, every contestant runs a batch of counts.

        Who goes first rotates from turn to turn, and a batch is a few counts only, so that a change of load on
        the shared machine weighs on all contestants alike.
        """
        workers, owner = {}, {}
        try:
            for kind in self.pythons:
                process = subprocess.Popen(
                    self.command(kind, "serve", databases[kind]),
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                    env=self.env,
                )
                workers[kind] = process
                ready = process.stdout.readline()
                if not ready:
                    raise SystemExit(f"the {kind} worker failed to start (see its error above)")
                hello = json.loads(ready)
                print(f"  {kind} worker ready: {hello['rows']:,} rows counted", flush=True)
                owner.update(dict.fromkeys(hello["names"], kind))
            names = list(owner)
            for turn in range(self.args.turns):
                for name in names[turn % len(names) :] + names[: turn % len(names)]:
                    process = workers[owner[name]]
                    process.stdin.write(json.dumps([name, self.args.batch]) + "\n")
                    process.stdin.flush()
                    self.times.setdefault(name, []).append(json.loads(process.stdout.readline()))
        finally:
            for process in workers.values():
                process.stdin.close()
                process.wait()

    def report(self) -> None:
        """Print each contestant's median, provstore's speed-up over aiida-core and its time over each ceiling's.

        Ratios are medians of the per-turn ratios (batch median against batch median of the same turn).
        """
        batch_medians = {name: [statistics.median(batch) for batch in batches] for name, batches in self.times.items()}
        ours = batch_medians["provstore"]

        def ratio(name: str) -> float:
            return statistics.median(theirs / mine for theirs, mine in zip(batch_medians[name], ours, strict=True))

        count = len(ours) * self.args.batch
        print(f"\nmedians of {count} warm counts each, {self.args.turns} turns of {self.args.batch} (ms)")
        for name, batches in self.times.items():
            median = statistics.median(value for batch in batches for value in batch)
            extra = "" if name == "provstore" else f"   provstore is {ratio(name):.2f} x faster"
            print(f"  {name:<56} {median:8.2f}{extra}")
        best = min(
            (name for name in self.times if name.startswith("ceiling") and FLOOR not in name),
            key=lambda name: statistics.median(batch_medians[name]),
        )
        print(f"  provstore / best ceiling of the same semantics ({best[9:]}): {1 / ratio(best):.2f} x its time")
        if "aiida" in self.times:
            verdict = "met" if ratio("aiida") >= 2 else "MISSED"
            print(f"  provstore is {ratio('aiida'):.2f} x faster than aiida-core (goal >= 2 x: {verdict})")


def main() -> None:
    """Parse the arguments; run a worker task, or drive the whole comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=52_000, help="nodes in each store (default 52,000)")
    parser.add_argument("--turns", type=int, default=40, help="turns of batches (default 40)")
    parser.add_argument("--batch", type=int, default=5, help="counts per contestant per turn (default 5)")
    parser.add_argument("--aiida-python", help="python of a venv with aiida-core 2.9.4, to run it side by side")
    parser.add_argument(
        "--dsn", help="existing PostgreSQL server (postgresql://user@host:port/db); default: a throwaway cluster"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--kind", help=argparse.SUPPRESS)
    parser.add_argument("--dbname", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--profile", help=argparse.SUPPRESS)
    parser.add_argument("--server", help=argparse.SUPPRESS)
    parser.add_argument("--threshold", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    args.threshold = threshold_of(args.nodes)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    print(
        f"machine: {platform.machine()} {os.cpu_count()} CPUs, {platform.platform()}, python "
        f"{platform.python_version()}; commit {commit.stdout.strip() or '?'}; load average at start "
        + " ".join(f"{value:.2f}" for value in os.getloadavg())
    )
    from provstore.plugins import resolve_storage_class
    from provstore.storage import EntityTypes
    from provstore.testing.profiles import make_profile
    from provstore_psql_dos.testing import ExternalPostgres, PostgresCluster

    server = ExternalPostgres.from_dsn(args.dsn) if args.dsn else PostgresCluster().start()
    suffix = uuid.uuid4().hex[:10]
    databases = {"provstore": f"qbench_ps_{suffix}", "aiida": f"qbench_aiida_{suffix}"}
    folder = Path(tempfile.mkdtemp(prefix="provstore-query-aiida-"))
    try:
        server.create_database(databases["provstore"])
        driver = Driver(args, folder, server.dsn())
        profile = make_profile("core.psql_dos", folder / "provstore", **server.storage_config(databases["provstore"]))
        resolve_storage_class(profile).initialise(profile)
        with resolve_storage_class(profile)(profile) as storage:
            [user] = storage.bulk_insert(EntityTypes.USER, [{"email": "bench@example.org"}], allow_defaults=True)
            rows = (
                {"node_type": "data.bench.", "user_id": user, "attributes": attributes(i)} for i in range(args.nodes)
            )
            storage.bulk_insert(EntityTypes.NODE, rows, allow_defaults=True)
        if args.aiida_python:
            server.create_database(databases["aiida"])
            described = {"host": server.host, "port": server.port, "user": server.user, "password": server.password}
            driver.call("aiida", "aiida-setup", databases["aiida"], server=json.dumps(described))
        for kind in driver.pythons:  # planner statistics and visibility map, as autovacuum leaves a table
            connection = server.connect(databases[kind])
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
            connection.close()
        print(f"{args.nodes:,} nodes in each store; filter attributes.x > {args.threshold:,}")
        driver.run_turns(databases)
        print("load average at end: " + " ".join(f"{value:.2f}" for value in os.getloadavg()))
        driver.report()
        for kind in driver.pythons:
            explained = driver.call(kind, "explain", databases[kind])
            print(f"\n-- {kind}: {explained['sql']}")
            for line in explained["plan"]:
                print(f"   {line}")
    finally:
        created = {name for (name,) in server.execute("SELECT datname FROM pg_database")}
        for name in set(databases.values()) & created:
            server.drop_database(name)
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
