"""PostgreSQL part of ``benchmarks/storage.py``: the server to measure on, and the raw ``COPY`` ceiling.

The ceiling is what PostgreSQL itself does with the same rows: serialise them to COPY text (timed, any
store has to do it; done the plain way, value by value) and ``COPY`` them, chunk after chunk in one
transaction, into a plain table with the same columns (``CREATE TABLE ... (LIKE table)``: no index, no
constraint but NOT NULL, no foreign key). Rows are consumed as an iterable, so memory stays bounded.
It runs with the garbage-collector setting of ``bulk_insert`` (:func:`provstore.gc_tuning.spaced_collections`:
tuned only when the benchmark opted in), so that a ratio compares serialisation and database work, not
different collector settings.
"""

from __future__ import annotations

import datetime
import io
import itertools
import json
import time
import uuid
from collections.abc import Iterable
from typing import Any

from provstore.gc_tuning import spaced_collections
from provstore_psql_dos.testing import ExternalPostgres, PostgresCluster, PostgresServer

__all__ = ["CopyCeiling", "start_server"]

CHUNK = 10_000
"""Rows serialised and sent per ``COPY`` (the ceiling's memory bound)."""


def start_server(dsn: str | None) -> PostgresServer:
    """Return the server to benchmark on: the one at ``dsn``, else a throwaway cluster started now."""
    return ExternalPostgres.from_dsn(dsn) if dsn else PostgresCluster().start()


def _field(value: Any) -> str:
    """Return one value in COPY text format, the plain way (the benchmark's values need no escaping)."""
    if value is None:
        return "\\N"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    return str(value)


class CopyCeiling:
    """``COPY`` into plain tables of the benchmark's database, measured between the ``bulk_insert`` runs.

    Interleaving the runs matters on a shared machine: both sides then see the same background load.
    """

    def __init__(self, server: PostgresServer, dbname: str) -> None:
        """Connect to database ``dbname`` (which holds the provstore schema) of ``server``."""
        self._connection = server.connect(dbname)
        self._connection.autocommit = False
        with self._connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            self.version: str = cursor.fetchone()[0]

    def seconds(self, like: str, rows: Iterable[dict[str, Any]]) -> float:
        """Return the seconds to serialise and COPY ``rows`` (plus an ``id``) into a new plain copy of ``like``."""
        plain = f"ceiling_{uuid.uuid4().hex[:8]}"
        with self._connection.cursor() as cursor:
            cursor.execute(f"CREATE TABLE {plain} (LIKE {like})")
            self._connection.commit()
            iterator, ids = iter(rows), itertools.count(1)
            with spaced_collections():
                start = time.perf_counter()
                while chunk := list(itertools.islice(iterator, CHUNK)):
                    buffer = io.StringIO()
                    for row in chunk:
                        buffer.write("\t".join([str(next(ids)), *map(_field, row.values())]) + "\n")
                    buffer.seek(0)
                    cursor.copy_expert(f"COPY {plain} (id, {', '.join(chunk[0])}) FROM STDIN", buffer)
                self._connection.commit()
                seconds = time.perf_counter() - start
            cursor.execute(f"DROP TABLE {plain}")
        self._connection.commit()
        return seconds

    def close(self) -> None:
        """Close the connection."""
        self._connection.close()
