"""Where the time of a load-mode ``bulk_insert`` of links goes on ``core.psql_dos``, round after round.

A million nodes are inserted once; then each round measures the COPY ceiling of the link rows (as
``benchmarks/storage.py`` does) and a ``bulk_insert(..., exclusive_load=True)`` of the same links (the
explicit load mode; ``--default-path`` measures the default path instead) inside a transaction that is rolled
back afterwards, so every round starts from the same tables and the rounds can be compared. Each round
prints the load phase (wall time, and the server backend's CPU time read from ``/proc`` when the server runs
on this machine, as the throwaway cluster does), every statement of the rebuild with its time, and the ratio
to the ceiling of that round. Commit is not timed (it is one WAL flush).

    python benchmarks/bulk_load.py                    # 1,000,000 nodes and links, 3 rounds
    python benchmarks/bulk_load.py --nodes 200000 --rounds 2
    python benchmarks/bulk_load.py --gc-tuning        # opted in to the collector setting, as the CLI is
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from provstore.gc_tuning import enable_bulk_tuning
from provstore.plugins import resolve_storage_class
from provstore.storage import EntityTypes, StorageBackend
from provstore.testing.profiles import make_profile
from psql_ceiling import CopyCeiling, start_server
from storage import link_rows, node_rows

REBUILD = re.compile(r"\s*(CREATE (UNIQUE )?INDEX|ALTER TABLE \S+ ADD CONSTRAINT) ")
"""Statements of ``BulkLoad.finish``: the first one ends the load phase."""


class _Rollback(Exception):
    """Raised to roll a measured round back."""


def backend_cpu_seconds(pid: int) -> float | None:
    """Return the CPU seconds used so far by server process ``pid`` (None if it does not run on this machine)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class StatementTimer:
    """Time the rebuild statements run on ``engine``; note when the first starts and the server's CPU then."""

    def __init__(self, engine: sa.Engine, pid: int) -> None:
        self.engine = engine
        self.pid = pid
        self.rebuild: list[tuple[str, float]] = []
        self.rebuild_started: float | None = None
        self.cpu_at_rebuild: float | None = None
        self._start = 0.0

    def __enter__(self) -> StatementTimer:
        sa.event.listen(self.engine, "before_cursor_execute", self._before)
        sa.event.listen(self.engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *exc: object) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._before)
        sa.event.remove(self.engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self._start = time.perf_counter()
        if self.rebuild_started is None and REBUILD.match(statement):
            self.rebuild_started = self._start
            self.cpu_at_rebuild = backend_cpu_seconds(self.pid)

    def _after(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if REBUILD.match(statement):
            self.rebuild.append((" ".join(statement.split())[:100], time.perf_counter() - self._start))


def measure_round(storage: StorageBackend, pks: list[int], copy: CopyCeiling, exclusive_load: bool = True) -> None:
    """Print one round: the ceiling, then the load phase and rebuild of a rolled-back link ``bulk_insert``."""
    ceiling = copy.seconds("db_dblink", link_rows(pks))
    try:
        with storage.transaction() as session:
            connection = session.connection()
            pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            with StatementTimer(connection.engine, pid) as timer:
                cpu_start = backend_cpu_seconds(pid)
                start = time.perf_counter()
                storage.bulk_insert(EntityTypes.LINK, link_rows(pks), exclusive_load=exclusive_load)
                seconds = time.perf_counter() - start
                cpu_end = backend_cpu_seconds(pid)
            raise _Rollback
    except _Rollback:
        pass
    print(f"  ceiling (serialise + COPY into a plain table): {ceiling:.2f} s")
    print(f"  bulk_insert {len(pks) - 1:,} links: {seconds:.2f} s")
    if timer.rebuild_started is None:
        print("    (no load mode: the rows went in row by row)")
    else:
        load, rebuild = timer.rebuild_started - start, start + seconds - timer.rebuild_started
        cpu = [cpu_start, timer.cpu_at_rebuild, cpu_end]
        load_cpu = rebuild_cpu = ""
        if None not in cpu:
            load_cpu = f" (server CPU {cpu[1] - cpu[0]:.2f} s)"
            rebuild_cpu = f" (server CPU {cpu[2] - cpu[1]:.2f} s, parallel workers not counted)"
        print(f"    load {load:.2f} s{load_cpu}, then rebuild {rebuild:.2f} s{rebuild_cpu}:")
        for statement, duration in timer.rebuild:
            print(f"    {duration:5.2f} s  {statement}")
    print(f"  bulk_insert reaches {100 * ceiling / seconds:.0f}% of the ceiling (goal >= 50%)")


def main(argv: list[str] | None = None) -> int:
    """Insert the nodes, then measure ``--rounds`` rounds of links."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1_000_000, help="nodes, and links chaining them")
    parser.add_argument("--rounds", type=int, default=3, help="rolled-back link loads, each with its ceiling")
    parser.add_argument("--dsn", help="postgresql:// URL of a server to use instead of a throwaway one")
    parser.add_argument("--default-path", action="store_true", help="measure bulk_insert without exclusive_load")
    parser.add_argument("--gc-tuning", action="store_true", help="opt in to the bulk garbage-collector setting")
    args = parser.parse_args(argv)
    if args.gc_tuning:
        enable_bulk_tuning()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.platform()}; load average {os.getloadavg()[0]:.1f}"
    )
    server, dbname = start_server(args.dsn), f"provstore_bench_{uuid.uuid4().hex[:8]}"
    server.create_database(dbname)
    try:
        with tempfile.TemporaryDirectory(prefix="provstore-bench-") as folder:
            profile = make_profile("core.psql_dos", Path(folder), **server.storage_config(dbname))
            resolve_storage_class(profile).initialise(profile)
            with resolve_storage_class(profile)(profile) as storage:
                [user] = storage.bulk_insert(EntityTypes.USER, [{"email": "bench@example.org"}], allow_defaults=True)
                start = time.perf_counter()
                pks = storage.bulk_insert(EntityTypes.NODE, node_rows(args.nodes, user))
                print(f"bulk_insert {args.nodes:,} nodes: {time.perf_counter() - start:.1f} s (once, committed)")
                copy = CopyCeiling(server, dbname)
                try:
                    for number in range(1, args.rounds + 1):
                        print(f"round {number} (load average {os.getloadavg()[0]:.1f}):")
                        measure_round(storage, pks, copy, exclusive_load=not args.default_path)
                finally:
                    copy.close()
    finally:
        server.drop_database(dbname)
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
