"""Throughput of the ``core.s3`` repository beside raw boto3 doing the same requests, against one S3 server.

The server is moto's S3 server (``moto[server]``) started in a subprocess on 127.0.0.1, as in the tests,
unless ``--endpoint-url`` names another (with ``--bucket`` and the standard AWS credential sources). Small
objects: N x 1 KiB written one by one (``put_object_from_filelike`` against ``put_object``) and as a batch
(``put_objects_from_filelikes`` against ``put_object`` on a pool of as many threads), then checked with
``has_objects`` and read back with ``iter_object_streams`` (against HEAD / GET on the same pool). Large
objects: one object of ``--large-mib`` written from a file (hash pass, then a multipart upload to its key),
from a stream that cannot be rewound (multipart upload to a staging key, then a server-side copy), and read
back in 1 MiB reads; raw boto3 sends the same multipart requests one part after the other, and its managed
transfer (``upload_file``, threads) is shown for reference. Rounds are interleaved; the best of each is kept.

    python benchmarks/s3.py                       # 10,000 x 1 KiB, 256 MiB, 3 rounds of the large ones
    python benchmarks/s3.py --small 2000 --large-mib 64 --rounds 2
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import platform
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from provstore_s3.backend import OBJECTS, S3RepositoryBackend
from provstore_s3.testing import S3TestServer

KiB, MiB = 1024, 1024 * 1024


class Unseekable(io.RawIOBase):
    """A file read through a stream that cannot be rewound (as a pipe or a network download would be)."""

    def __init__(self, path: Path) -> None:
        self._file = open(path, "rb")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self._file.readinto(buffer)

    def close(self) -> None:
        self._file.close()
        super().close()


def timed(function: Callable[[], Any]) -> float:
    """Return the seconds ``function()`` takes."""
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def raw_multipart(client: Any, bucket: str, key: str, path: Path, part_size: int) -> None:
    """Upload ``path`` as raw boto3 multipart requests, one part after the other (what the backend sends)."""
    upload = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    parts = []
    with open(path, "rb") as handle:
        while chunk := handle.read(part_size):
            number = len(parts) + 1
            etag = client.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=number, Body=chunk)["ETag"]
            parts.append({"ETag": etag, "PartNumber": number})
    client.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts})


def read_all(stream: Any) -> int:
    """Read ``stream`` to its end in 1 MiB reads and return the byte count."""
    total = 0
    while chunk := stream.read(MiB):
        total += len(chunk)
    return total


def small_objects(repository: S3RepositoryBackend, count: int, threads: int) -> dict[str, float]:
    """Return objects/s of single and batch writes, existence checks and reads of ``count`` x 1 KiB."""
    client, bucket = repository.client, repository._bucket
    batches = [[os.urandom(KiB) for _ in range(count)] for _ in range(4)]
    keys = [[hashlib.sha256(content).hexdigest() for content in batch] for batch in batches]
    rates: dict[str, float] = {}

    def ours_single() -> None:
        for content in batches[0]:
            repository.put_object_from_filelike(io.BytesIO(content))

    def raw_single() -> None:
        for key, content in zip(keys[1], batches[1], strict=True):
            client.put_object(Bucket=bucket, Key=OBJECTS + key, Body=content)

    def ours_batch() -> None:
        assert repository.put_objects_from_filelikes([io.BytesIO(content) for content in batches[2]]) == keys[2]

    def raw_batch() -> None:
        with ThreadPoolExecutor(threads) as pool:
            list(
                pool.map(
                    lambda pair: client.put_object(Bucket=bucket, Key=OBJECTS + pair[0], Body=pair[1]),
                    zip(keys[3], batches[3], strict=True),
                )
            )

    everything = [key for batch in keys for key in batch][:count]

    def ours_has() -> None:
        assert all(repository.has_objects(everything))

    def raw_has() -> None:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda key: client.head_object(Bucket=bucket, Key=OBJECTS + key), everything))

    def ours_read() -> None:
        assert sum(len(stream.read()) for _, stream in repository.iter_object_streams(everything)) == count * KiB

    def raw_read() -> None:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda key: client.get_object(Bucket=bucket, Key=OBJECTS + key)["Body"].read(), everything))

    for name, function in [
        ("single put, provstore", ours_single),
        ("single put, raw boto3", raw_single),
        ("batch put, provstore", ours_batch),
        (f"batch put, raw boto3 ({threads} threads)", raw_batch),
        ("has_objects, provstore", ours_has),
        (f"HEAD, raw boto3 ({threads} threads)", raw_has),
        ("iter_object_streams, provstore", ours_read),
        (f"GET, raw boto3 ({threads} threads)", raw_read),
    ]:
        rates[name] = count / timed(function)
        print(f"  {name:42s} {rates[name]:8.0f} objects/s", flush=True)
    return rates


def large_objects(repository: S3RepositoryBackend, size_mib: int, rounds: int, folder: Path) -> dict[str, float]:
    """Return MB/s (best of ``rounds``) of writing and reading one object of ``size_mib`` MiB, ours and raw."""
    client, bucket, part_size = repository.client, repository._bucket, repository._part_size
    path = folder / "large.bin"
    with open(path, "wb") as out:
        for _ in range(size_mib):
            out.write(os.urandom(MiB))
    best: dict[str, float] = {}

    def record(name: str, seconds: float) -> None:
        best[name] = max(best.get(name, 0.0), size_mib * MiB / 1e6 / seconds)

    for round_number in range(rounds):
        key = repository.put_object_from_file(path)  # stored by the round before: delete it first
        repository.delete_object(key)
        record("write from a file, provstore", timed(lambda: repository.put_object_from_file(path)))
        repository.delete_object(key)
        with Unseekable(path) as stream:
            seconds = timed(lambda stream=stream: repository.put_object_from_filelike(stream))
        record("write from an unseekable stream, provstore", seconds)
        target = f"raw/{uuid.uuid4().hex}"
        seconds = timed(lambda target=target: raw_multipart(client, bucket, target, path, part_size))
        record("write, raw boto3 multipart (same requests)", seconds)
        seconds = timed(lambda: client.upload_file(str(path), bucket, f"raw/{uuid.uuid4().hex}"))
        record("write, raw boto3 upload_file (10 threads)", seconds)

        def ours_read(key: str = key) -> None:
            with repository.open(key) as handle:
                assert read_all(handle) == size_mib * MiB

        record("read, provstore open()", timed(ours_read))
        seconds = timed(lambda target=target: read_all(client.get_object(Bucket=bucket, Key=target)["Body"]))
        record("read, raw boto3 get_object body", seconds)
        print(f"  round {round_number + 1}: " + ", ".join(f"{value:.0f}" for value in best.values()), flush=True)
    for name, value in best.items():
        print(f"  {name:46s} {value:8.1f} MB/s", flush=True)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=10_000, help="number of 1 KiB objects (default 10,000)")
    parser.add_argument("--large-mib", type=int, default=256, help="size of the large object in MiB (default 256)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the large-object figures (default 3)")
    parser.add_argument("--endpoint-url", help="an S3 server to use instead of a local moto server")
    parser.add_argument("--bucket", help="the bucket on --endpoint-url (default: a new one)")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    print(f"python {platform.python_version()}, {os.cpu_count()} cores, load {load:.1f}")
    server = None if args.endpoint_url else S3TestServer().start()
    try:
        bucket = args.bucket or f"bench-{uuid.uuid4().hex[:12]}"
        config = server.repository_config(bucket) if server else {"endpoint_url": args.endpoint_url, "bucket": bucket}
        repository = S3RepositoryBackend.from_config(config)
        repository.initialise()
        threads = repository._max_concurrency
        print(f"{args.small} x 1 KiB ({'moto ' + server.url if server else args.endpoint_url}):")
        small = small_objects(repository, args.small, threads)
        print(f"1 x {args.large_mib} MiB, part size {repository._part_size // MiB} MiB, best of {args.rounds}:")
        with tempfile.TemporaryDirectory() as folder:
            large = large_objects(repository, args.large_mib, args.rounds, Path(folder))
        print("ratios:")
        print(
            f"  batch / single puts, provstore: {small['batch put, provstore'] / small['single put, provstore']:.1f} x"
        )
        raw = large["write, raw boto3 multipart (same requests)"]
        for name in ("write from a file, provstore", "write from an unseekable stream, provstore"):
            print(f"  {name} / raw multipart: {large[name] / raw:.0%}")
        print(f"  read / raw read: {large['read, provstore open()'] / large['read, raw boto3 get_object body']:.0%}")
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")
        repository.erase(force=True)
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
