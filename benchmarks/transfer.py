"""Seconds to transfer a store from ``core.sqlite_dos`` to ``core.psql_dos`` with ``provstore.transfer``.

The source holds ``--nodes`` nodes (JSON attributes, every 10th with one ~1 KiB file), as many links (a
chain) and ``--nodes / 10`` repository objects. The target is a database on a throwaway PostgreSQL cluster
(or ``--dsn``). The ceiling, measured in the same run on a second database, is writing the same data
straight into an empty ``core.psql_dos`` store: ``bulk_insert`` of the nodes and links (pks known) plus
``put_objects_from_filelikes`` of the files. The transfer additionally reads the source, matches every
batch against the target (resumability), remaps primary keys and verifies counts and every object's sha256.

    python benchmarks/transfer.py                    # full size: 100,000 nodes, 100,000 links, 10,000 files
    python benchmarks/transfer.py --nodes 5000       # quick
"""

from __future__ import annotations

import argparse
import datetime
import io
import os
import platform
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from provstore.plugins import resolve_storage_class
from provstore.storage import EntityTypes, StorageBackend
from provstore.testing.profiles import make_profile
from provstore.transfer import transfer_storage
from provstore_psql_dos.testing import ExternalPostgres, PostgresCluster

UTC = datetime.timezone.utc


def file_content(index: int) -> bytes:
    """Return the ~1 KiB content of file ``index`` (distinct per index)."""
    return f"file {index}\n".encode() + bytes(range(256)) * 4


def populate(storage: StorageBackend, nodes: int) -> None:
    """Fill ``storage`` with ``nodes`` nodes, ``nodes`` links and one file per 10 nodes, in batches."""
    [user] = storage.bulk_insert(EntityTypes.USER, [{"email": "bench@example.org"}], allow_defaults=True)
    repository = storage.get_repository()
    batch = 10_000
    previous: int | None = None
    for start in range(0, nodes, batch):
        indices = range(start, min(start + batch, nodes))
        files = [index for index in indices if index % 10 == 0]
        keys = repository.put_objects_from_filelikes([io.BytesIO(file_content(index)) for index in files])
        key_of = dict(zip(files, keys, strict=True))
        rows = [
            {
                "uuid": str(uuid.uuid4()),
                "node_type": "data.core.Int.",
                "label": f"node {index}",
                "ctime": datetime.datetime(2024, 1, 1, tzinfo=UTC),
                "attributes": {"value": index, "unit": "eV", "tags": ["a", "b"]},
                "repository_metadata": {"o": {"data.bin": {"k": key_of[index]}}} if index in key_of else {},
                "user_id": user,
            }
            for index in indices
        ]
        pks = storage.bulk_insert(EntityTypes.NODE, rows, allow_defaults=True)
        inputs = [pks[0] if previous is None else previous, *pks[:-1]]
        links = [
            {"input_id": source, "output_id": target, "label": "next", "type": "create"}
            for source, target in zip(inputs, pks, strict=True)
        ]
        storage.bulk_insert(EntityTypes.LINK, links)
        previous = pks[-1]


def open_new(backend: str, folder: Path, **extra: Any) -> StorageBackend:
    """Initialise and open a new store of ``backend`` with its files under ``folder``."""
    profile = make_profile(backend, folder, **extra)
    resolve_storage_class(profile).initialise(profile)
    return resolve_storage_class(profile)(profile)


def main(argv: list[str] | None = None) -> int:
    """Build the source, time the transfer and the ceiling, and print both with their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100_000, help="nodes (and links) in the source; files: a tenth")
    parser.add_argument("--batch-size", type=int, default=1000, help="batch size of the transfer")
    parser.add_argument("--dsn", help="postgresql:// URL of a server to use instead of a throwaway cluster")
    args = parser.parse_args(argv)
    python = f"Python {platform.python_version()}"
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {python}, {platform.platform()}")

    server = ExternalPostgres.from_dsn(args.dsn) if args.dsn else PostgresCluster().start()
    names = [f"bench_transfer_{uuid.uuid4().hex[:8]}", f"bench_ceiling_{uuid.uuid4().hex[:8]}"]
    try:
        with tempfile.TemporaryDirectory(prefix="provstore-bench-") as tmp:
            folder = Path(tmp)
            source = open_new("core.sqlite_dos", folder / "source")
            started = time.perf_counter()
            populate(source, args.nodes)
            print(f"source built in {time.perf_counter() - started:.1f} s: {args.nodes} nodes and links")

            for name in names:
                server.create_database(name)
            target = open_new("core.psql_dos", folder / "target", **server.storage_config(names[0]))
            report = transfer_storage(source, target, batch_size=args.batch_size)
            target.close()
            for line in report.summary_lines():
                print(line)

            ceiling = open_new("core.psql_dos", folder / "ceiling", **server.storage_config(names[1]))
            started = time.perf_counter()
            populate(ceiling, args.nodes)
            ceiling_seconds = time.perf_counter() - started
            ceiling.close()
            source.close()
            print(f"ceiling (writing the same data straight into psql_dos): {ceiling_seconds:.1f} s")
            print(
                f"transfer: {report.seconds:.1f} s for {args.nodes} nodes, {report.entities['links'].copied} links, "
                f"{report.objects.copied} files = {report.seconds / ceiling_seconds:.1f} x the ceiling"
            )
    finally:
        for name in names:
            server.drop_database(name)
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
