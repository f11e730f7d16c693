"""Benchmark the repository backends against plain files written to a folder on the same disk, in one run.

Measures objects/s writing and reading many small objects (single writes and the batch API), MB/s writing
large objects, and the time of packing all loose objects, then prints every figure with its ratio to the
plain-file ceiling (``open().write()`` + ``os.fsync`` per file) measured in the same run, because the
machines are shared and noisy. Each figure is the best of ``--repeat`` rounds.

    python benchmarks/repository.py                      # full size: 10,000 x 1 KiB, 20 x 16 MiB, 20 x 64 MiB
    python benchmarks/repository.py --small 1000 --large 4 --sizes 16   # quick
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

from provstore.repository import AbstractRepositoryBackend
from provstore.repository.abstract import CHUNK_SIZE
from provstore_diskobjectstore.backend import DiskObjectStoreRepositoryBackend
from provstore_sandbox.backend import SandboxRepositoryBackend

MiB = 1024 * 1024


class Payload(io.RawIOBase):
    """A readable stream of an 8-byte header followed by a shared payload, so objects differ without copies."""

    def __init__(self, header: int, payload: memoryview) -> None:
        self._parts = [memoryview(header.to_bytes(8, "little")), payload]

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while self._parts and not len(self._parts[0]):
            self._parts.pop(0)
        if not self._parts:
            return 0
        count = min(len(buffer), len(self._parts[0]))
        buffer[:count] = self._parts[0][:count]
        self._parts[0] = self._parts[0][count:]
        return count


def handles(count: int, payload: memoryview, first: int = 0) -> Iterator[io.BufferedReader]:
    """Yield ``count`` distinct buffered streams over ``payload``."""
    for index in range(first, first + count):
        yield io.BufferedReader(Payload(index, payload), buffer_size=CHUNK_SIZE)


def timed(action: Callable[[], Any]) -> float:
    """Return the seconds ``action`` takes, after flushing earlier writes so they do not weigh on it."""
    os.sync()
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


# ------------------------------------------------------------------------------------------- the ceiling
def plain_write(folder: Path, count: int, payload: memoryview) -> list[Path]:
    """Write each object to its own file with ``open().write()`` and ``os.fsync``: the ceiling."""
    paths = []
    for index, source in enumerate(handles(count, payload)):
        path = folder / f"{index}.bin"
        with open(path, "wb") as target:
            shutil.copyfileobj(source, target, CHUNK_SIZE)
            target.flush()
            os.fsync(target.fileno())
        paths.append(path)
    return paths


def plain_read(paths: list[Path]) -> None:
    """Read every file back."""
    for path in paths:
        with open(path, "rb") as handle:
            while handle.read(CHUNK_SIZE):
                pass


# -------------------------------------------------------------------------------------------- backends
def make_backend(kind: str, folder: Path) -> AbstractRepositoryBackend:
    """Return an initialised, empty repository of ``kind`` under ``folder``."""
    if kind == "dos":
        repository: AbstractRepositoryBackend = DiskObjectStoreRepositoryBackend(filepath=folder / "container")
    else:
        repository = SandboxRepositoryBackend(filepath=folder, key_format=kind.split("-")[1])
    repository.initialise()
    return repository


def read_all(repository: AbstractRepositoryBackend, keys: list[str]) -> None:
    """Read every object back through ``iter_object_streams`` (the many-objects read path)."""
    for _, stream in repository.iter_object_streams(keys):
        while stream.read(CHUNK_SIZE):
            pass


def best(repeat: int, measure: Callable[[Path], float], root: Path) -> float:
    """Return the smallest of ``repeat`` timings, each in a fresh folder removed afterwards."""
    timings = []
    for _ in range(repeat):
        folder = Path(tempfile.mkdtemp(dir=root))
        try:
            timings.append(measure(folder))
        finally:
            shutil.rmtree(folder)
    return min(timings)


def plain_large(folder: Path, count: int, payload: memoryview) -> float:
    """Return the seconds to write ``count`` large plain files."""
    return timed(lambda: plain_write(folder, count, payload))


def hashing(payload: memoryview) -> float:
    """Return the seconds to SHA-256 the payload once: the CPU ceiling of any content-addressed write."""
    start = time.perf_counter()
    hashlib.sha256(payload).hexdigest()
    return time.perf_counter() - start


def large(folder: Path, kind: str, count: int, payload: memoryview, batch: bool = False) -> float:
    """Return the seconds to write ``count`` large objects into a new ``kind`` repository, singly or in a batch."""
    repository = make_backend(kind, folder)
    if batch:
        seconds = timed(lambda: repository.put_objects_from_filelikes(handles(count, payload)))
    else:
        seconds = timed(lambda: list(map(repository.put_object_from_filelike, handles(count, payload))))
    repository.erase()
    return seconds


def run(args: argparse.Namespace) -> dict[str, tuple[float, str]]:
    """Run every measurement; return ``{figure: (rate, unit)}``."""
    root = Path(tempfile.mkdtemp(prefix="provstore-bench-", dir=args.dir))
    small = memoryview(os.urandom(args.small_size - 8))
    results: dict[str, tuple[float, str]] = {}

    def rate(name: str, count: float, seconds: float, unit: str) -> None:
        results[name] = (max(count / seconds, results.get(name, (0.0, unit))[0]), unit)
        print(f"  {name:<34} {count / seconds:>12,.1f} {unit}", flush=True)

    try:
        print(f"small objects: {args.small:,} x {args.small_size:,} bytes", flush=True)
        paths: list[Path] = []

        def plain_small(folder: Path) -> float:
            nonlocal paths
            seconds = timed(lambda: paths.extend(plain_write(folder, args.small, small)))
            rate("plain small read", args.small, timed(lambda: plain_read(paths)), "objects/s")
            paths = []
            return seconds

        rate("plain small write", args.small, best(args.repeat, plain_small, root), "objects/s")

        for kind in args.backends:

            def single(folder: Path, kind: str = kind) -> float:
                repository = make_backend(kind, folder)
                keys: list[str] = []
                seconds = timed(
                    lambda: keys.extend(map(repository.put_object_from_filelike, handles(args.small, small)))
                )
                rate(f"{kind} small read", args.small, timed(lambda: read_all(repository, keys)), "objects/s")
                if kind == "dos":
                    packing = timed(lambda: repository.maintain(live=True))
                    results["dos pack all loose"] = (
                        min(packing, results.get("dos pack all loose", (packing,))[0]),
                        "s",
                    )
                    print(f"  {'dos pack all loose':<34} {packing:>12.2f} s", flush=True)
                    rate("dos small read (packed)", args.small, timed(lambda: read_all(repository, keys)), "objects/s")
                repository.erase()
                return seconds

            def batch(folder: Path, kind: str = kind) -> float:
                repository = make_backend(kind, folder)
                seconds = timed(lambda: repository.put_objects_from_filelikes(handles(args.small, small)))
                repository.erase()
                return seconds

            rate(f"{kind} small write", args.small, best(args.repeat, single, root), "objects/s")
            rate(f"{kind} small batch write", args.small, best(args.repeat, batch, root), "objects/s")

        for size in args.sizes:
            payload = memoryview(os.urandom(size * MiB - 8))
            total = args.large * size
            print(f"large objects: {args.large} x {size} MiB", flush=True)
            plain = best(args.repeat, partial(plain_large, count=args.large, payload=payload), root)
            rate(f"plain large write {size} MiB", total, plain, "MB/s")
            rate(f"sha256 of {size} MiB objects", size, min(hashing(payload) for _ in range(args.repeat)), "MB/s")
            for kind in args.backends:
                single = best(args.repeat, partial(large, kind=kind, count=args.large, payload=payload), root)
                rate(f"{kind} large write {size} MiB", total, single, "MB/s")
                if kind == "dos":
                    packed = partial(large, kind=kind, count=args.large, payload=payload, batch=True)
                    rate(f"dos large batch write {size} MiB", total, best(args.repeat, packed, root), "MB/s")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return results


def report(results: dict[str, tuple[float, str]], sizes: list[int]) -> None:
    """Print the ratios to the ceilings and whether each goal is met."""
    print("\nratios (measured in this run)")
    pairs = [
        ("dos small write", "plain small write", 0.5),
        ("dos small read", "plain small read", None),
        ("dos small batch write", "dos small write", 5.0),
        ("dos small batch write", "plain small write", None),
        ("sandbox-sha256 small write", "plain small write", None),
        ("sandbox-uuid4 small write", "plain small write", None),
    ]
    for size in sizes:
        pairs += [
            (f"dos large write {size} MiB", f"plain large write {size} MiB", 0.7),
            (f"dos large batch write {size} MiB", f"plain large write {size} MiB", 0.7),
            (f"sandbox-sha256 large write {size} MiB", f"plain large write {size} MiB", None),
            (f"sha256 of {size} MiB objects", f"plain large write {size} MiB", None),
        ]
    for figure, ceiling, goal in pairs:
        if figure not in results or ceiling not in results:
            continue
        ratio = results[figure][0] / results[ceiling][0]
        verdict = "" if goal is None else f"  goal >= {goal:.1f}: {'met' if ratio >= goal else 'MISSED'}"
        print(f"  {figure:<34} / {ceiling:<28} = {ratio:6.2f}{verdict}")


def main() -> None:
    """Parse the arguments, describe the machine, run and report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000, help="number of small objects (default 10,000)")
    parser.add_argument("--small-size", type=int, default=1024, help="bytes per small object (default 1024)")
    parser.add_argument("--large", type=int, default=20, help="number of large objects per size (default 20)")
    parser.add_argument("--sizes", type=int, nargs="*", default=[16, 64], help="large object sizes in MiB")
    parser.add_argument("--repeat", type=int, default=1, help="rounds per figure; the best is kept (default 1)")
    parser.add_argument("--dir", default=None, help="folder on the disk to measure (default: system temp)")
    parser.add_argument(
        "--backends", nargs="*", default=["dos", "sandbox-sha256", "sandbox-uuid4"], help="backends to measure"
    )
    args = parser.parse_args()
    print(
        f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} CPUs, {platform.platform()}, "
        f"python {platform.python_version()}; folder: {args.dir or tempfile.gettempdir()}"
    )
    print("load average at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    results = run(args)
    print("load average at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    report(results, args.sizes)


if __name__ == "__main__":
    main()
