"""Counting nodes by a JSON range filter on PostgreSQL: provstore's ``core.psql_dos`` beside aiida-core's and raw SQL.

Both stores hold the same N nodes (default 52,000) in databases of one server, their attributes
``{"x": i, "name": "n<i>", "mod": i % 7, "tags": [...]}``; both are ANALYZEd. In rounds whose order alternates,
fresh worker processes each time, warm, ``--repeat`` times each (medians):

- provstore: ``storage.query().append("node", filters={"attributes.x": {">": K}}).count()``;
- aiida-core: ``QueryBuilder().append(Node, filters={"attributes.x": {">": K}}).count()``;
- the ceiling, in provstore's worker between its counts: psycopg2 running hand-written SQL for the same count
  with the same semantics (a number greater than K; other JSON types never match), the fastest of a few forms.

It then prints EXPLAIN (ANALYZE, BUFFERS) of the SQL each store sends (provstore's from its compile path,
aiida-core's from ``qb.as_sql(inline=True)``).

    python benchmarks/query_vs_aiida.py --aiida-python /work/venvs/aiida/bin/python
    python benchmarks/query_vs_aiida.py --nodes 5000 --rounds 2 --repeat 5          # quick, provstore only
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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


def median_ms(function: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Return the median wall time of ``function`` in milliseconds over ``repeat`` calls, and its last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


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


def worker_time(args: argparse.Namespace) -> None:
    """Time the count ``args.repeat`` times, warm (and, for provstore, the ceilings in turns); print JSON."""
    threshold, figures = args.threshold, {}
    if args.kind == "aiida":
        from aiida.orm import Node, QueryBuilder

        _aiida_storage(args)

        def count() -> int:
            return QueryBuilder().append(Node, filters={"attributes.x": {">": threshold}}).count()

        count()
        figures["count ms"], figures["rows"] = median_ms(count, args.repeat)
        print(json.dumps(figures))
        return
    from provstore_psql_dos.testing import ExternalPostgres

    storage = _provstore_storage(args)

    def ours() -> int:
        return storage.query().append("node", filters={"attributes.x": {">": threshold}}).count()

    connection = ExternalPostgres.from_dsn(args.dsn).connect(args.dbname)
    connection.autocommit = True
    cursor = connection.cursor()

    def raw(sql: str) -> Callable[[], int]:
        def run() -> int:
            cursor.execute(sql)
            return cursor.fetchone()[0]

        return run

    contestants = {"count ms": ours, **{name: raw(sql.format(k=threshold)) for name, sql in CEILINGS.items()}}
    times: dict[str, list[float]] = {name: [] for name in contestants}
    results = {name: function() for name, function in contestants.items()}  # warm
    for turn in range(args.repeat):  # in turns, who goes first rotating
        names = list(contestants)
        for name in names[turn % len(names) :] + names[: turn % len(names)]:
            start = time.perf_counter()
            results[name] = contestants[name]()
            times[name].append((time.perf_counter() - start) * 1000)
    if len(set(results.values())) != 1:
        raise SystemExit(f"the counts differ: {results}")
    figures = {name: statistics.median(values) for name, values in times.items()}
    figures["rows"] = results["count ms"]
    connection.close()
    storage.close()
    print(json.dumps(figures))


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
    {"aiida-setup": worker_setup_aiida, "time": worker_time, "explain": worker_explain}[args.worker](args)


# ------------------------------------------------------------------------------------------------- driver
class Driver:
    """Sets up both stores, runs the workers in alternating rounds and prints the medians."""

    def __init__(self, args: argparse.Namespace, folder: Path, dsn: str) -> None:
        self.args = args
        self.folder = folder
        self.dsn = dsn
        self.pythons = {"provstore": sys.executable}
        if args.aiida_python:
            self.pythons["aiida"] = args.aiida_python
        self.env = {**os.environ, "AIIDA_PATH": str(folder / "aiida-config")}
        self.figures: dict[tuple[str, str], list[float]] = {}

    def call(self, kind: str, task: str, dbname: str, **extra: str) -> dict[str, Any]:
        """Run one worker task of ``kind`` and return the JSON it prints."""
        command = [self.pythons[kind], __file__, "--worker", task, "--kind", kind, "--dsn", self.dsn]
        command += ["--dbname", dbname, "--folder", str(self.folder / kind), "--profile", "qbench"]
        command += ["--nodes", str(self.args.nodes), "--repeat", str(self.args.repeat)]
        command += ["--threshold", str(self.args.threshold)]
        for key, value in extra.items():
            command += [f"--{key}", value]
        done = subprocess.run(command, capture_output=True, text=True, env=self.env, check=False)
        if done.returncode:
            raise SystemExit(f"{kind} {task} failed:\n{done.stderr[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    def round(self, number: int, databases: dict[str, str]) -> None:
        """Time every contestant once, in an order that alternates from round to round."""
        kinds = list(self.pythons)
        if number % 2:
            kinds.reverse()
        for kind in kinds:
            figures = self.call(kind, "time", databases[kind])
            rows = figures.pop("rows")
            for name, value in figures.items():
                contestant = "provstore" if kind == "provstore" and name == "count ms" else kind
                label = "count" if name == "count ms" else f"ceiling: {name}"
                self.figures.setdefault((contestant, label), []).append(value)
                print(f"  {contestant:<10} {label:<44} {value:8.2f} ms  ({rows:,} rows)", flush=True)

    def report(self) -> None:
        """Print the medians, provstore's speed-up over aiida-core and its time over each hand-written query's."""
        medians = {key: statistics.median(values) for key, values in self.figures.items()}
        ours, theirs = medians["provstore", "count"], medians.get(("aiida", "count"))
        print(f"\nmedians over {self.args.rounds} rounds of {self.args.repeat} warm counts (ms)")
        print(f"  {'provstore count':<52} {ours:8.2f}")
        if theirs is not None:
            print(f"  {'aiida-core count':<52} {theirs:8.2f}")
        for (_, label), value in medians.items():
            if label.startswith("ceiling"):
                print(f"  {label:<52} {value:8.2f}   provstore takes {ours / value:.2f} x its time")
        best = min(value for (_, label), value in medians.items() if label.startswith("ceiling") and FLOOR not in label)
        print(f"  provstore / best ceiling of the same semantics: {ours / best:.2f} x its time")
        if theirs is not None:
            verdict = "met" if theirs / ours >= 2 else "MISSED"
            print(f"  provstore is {theirs / ours:.2f} x faster than aiida-core (goal >= 2 x: {verdict})")


def main() -> None:
    """Parse the arguments; run a worker task, or drive the whole comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=52_000, help="nodes in each store (default 52,000)")
    parser.add_argument("--repeat", type=int, default=30, help="warm counts per worker (default 30)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; medians are reported (default 5)")
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
        for name in databases.values() if args.aiida_python else [databases["provstore"]]:
            for statement in ("VACUUM ANALYZE",):
                connection = server.connect(name)
                connection.autocommit = True
                with connection.cursor() as cursor:
                    cursor.execute(statement)
                connection.close()
        print(f"{args.nodes:,} nodes in each store; filter attributes.x > {args.threshold:,}")
        for number in range(args.rounds):
            print(f"round {number + 1} of {args.rounds}", flush=True)
            driver.round(number, databases)
        print("load average at end: " + " ".join(f"{value:.2f}" for value in os.getloadavg()))
        driver.report()
        for kind in driver.pythons:
            explained = driver.call(kind, "explain", databases[kind])
            print(f"\n-- {kind}: {explained['sql']}")
            for line in explained["plan"]:
                print(f"   {line}")
    finally:
        for name in databases.values():
            try:
                server.drop_database(name)
            except Exception:  # the aiida database exists only with --aiida-python
                pass
        server.stop()
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
