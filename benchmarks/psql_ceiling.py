"""PostgreSQL part of ``benchmarks/storage.py``: the server to measure on, and the raw ``COPY`` ceiling.

The ceiling is what PostgreSQL itself can do with the same rows: serialise them to COPY text (timed,
any store has to do it; done the plain way, row by row) and ``COPY`` them in one transaction into a plain
table with the same columns, without indexes or constraints. For context the same COPY also goes into a
copy of ``db_dbnode`` with its indexes and (deferred) foreign keys: the cost the schema itself imposes.
"""

from __future__ import annotations

import datetime
import io
import json
import time
import uuid
from typing import Any

from provstore.testing.postgres import ExternalPostgres, PostgresCluster, PostgresServer

__all__ = ["CopyCeiling", "start_server"]

_COLUMNS = (
    "uuid varchar(36) NOT NULL, node_type varchar(255) NOT NULL, process_type varchar(255), "
    "label varchar(255) NOT NULL, description text NOT NULL, ctime timestamptz NOT NULL, "
    "mtime timestamptz NOT NULL, attributes jsonb, extras jsonb, repository_metadata jsonb NOT NULL, "
    "dbcomputer_id integer, user_id integer NOT NULL"
)


def start_server(dsn: str | None) -> PostgresServer:
    """Return the server to benchmark on: the one at ``dsn``, else a throwaway cluster started now."""
    return ExternalPostgres.from_dsn(dsn) if dsn else PostgresCluster().start()


def _serialise(rows: list[dict[str, Any]]) -> io.StringIO:
    """Return the rows as COPY text, written the plain way (values in column order, JSON via json.dumps)."""
    buffer = io.StringIO()
    for row in rows:
        fields = []
        for value in row.values():
            if value is None:
                fields.append("\\N")
            elif isinstance(value, dict):
                fields.append(json.dumps(value))
            elif isinstance(value, datetime.datetime):
                fields.append(value.isoformat())
            else:
                fields.append(str(value))
        buffer.write("\t".join(fields) + "\n")
    buffer.seek(0)
    return buffer


def _copy_rate(connection: Any, table: str, rows: list[dict[str, Any]]) -> tuple[float, float, float]:
    """COPY ``rows`` into ``table`` in one transaction; return (rows/s overall, serialise s, COPY+commit s)."""
    columns = ", ".join(rows[0])
    start = time.perf_counter()
    buffer = _serialise(rows)
    serialised = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN", buffer)
    connection.commit()
    end = time.perf_counter()
    return len(rows) / (end - start), serialised - start, end - serialised


class CopyCeiling:
    """The raw COPY ceilings in the benchmark's database, measured between the ``bulk_insert`` runs.

    Interleaving the runs matters on a shared machine: both sides then see the same background load.
    """

    def __init__(self, server: PostgresServer, dbname: str) -> None:
        """Create the plain table and the copy of ``db_dbnode`` (indexes, deferred foreign keys) to COPY into."""
        self._connection = server.connect(dbname)
        self._connection.autocommit = False
        self._plain = f"ceiling_{uuid.uuid4().hex[:8]}"
        self._schema = f"schema_{uuid.uuid4().hex[:8]}"
        self._plain_runs: list[tuple[float, float, float]] = []
        self._schema_runs: list[tuple[float, float, float]] = []
        with self._connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            self.version = cursor.fetchone()[0]
            cursor.execute(f"CREATE TABLE {self._plain} (id serial, {_COLUMNS})")
            cursor.execute(f"CREATE TABLE {self._schema} (LIKE db_dbnode INCLUDING ALL)")
            for column, target in (("user_id", "db_dbuser"), ("dbcomputer_id", "db_dbcomputer")):
                cursor.execute(
                    f"ALTER TABLE {self._schema} ADD FOREIGN KEY ({column}) REFERENCES {target} (id) "
                    "DEFERRABLE INITIALLY DEFERRED"
                )
        self._connection.commit()

    def measure(self, rows: list[dict[str, Any]]) -> None:
        """COPY ``rows`` (with fresh uuids) into both tables once."""
        fresh = [{**row, "uuid": str(uuid.uuid4())} for row in rows]
        self._plain_runs.append(_copy_rate(self._connection, self._plain, fresh))
        self._schema_runs.append(_copy_rate(self._connection, self._schema, fresh))

    def report(self, rate: float) -> str:
        """Return the report lines comparing ``rate`` (bulk_insert rows/s) with the best runs; drop the tables."""
        with self._connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {self._plain}, {self._schema}")
        self._connection.commit()
        self._connection.close()
        best, best_schema = max(self._plain_runs), max(self._schema_runs)
        return "\n".join(
            [
                f"server: PostgreSQL {self.version}",
                f"ceiling (COPY into a plain table, same columns, serialising included): {best[0]:,.0f} rows/s "
                f"(serialise {best[1]:.2f} s + COPY {best[2]:.2f} s); bulk_insert nodes reaches "
                f"{100 * rate / best[0]:.0f}% of it",
                f"reference (same COPY into a copy of db_dbnode with its indexes and foreign keys): "
                f"{best_schema[0]:,.0f} rows/s; bulk_insert nodes reaches {100 * rate / best_schema[0]:.0f}% of it",
            ]
        )
