"""Benchmark the repository backends against plain files written to a folder on the same disk, in one run.

Measures objects/s writing and reading many small objects (single writes and the batch API), MB/s writing
large objects, and the time of packing all loose objects, then prints every figure with its ratio to the
plain-file ceiling (``open().write()`` + ``os.fsync`` per file). The writers take turns, slice by slice
(``--slices``), so that a change of load on the shared machine weighs on all of them alike.

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
from pathlib import Path
from typing import Any

from provstore.repository import AbstractRepositoryBackend
from provstore.repository.abstract import CHUNK_SIZE
from provstore_diskobjectstore.backend import DiskObjectStoreRepositoryBackend
from provstore_sandbox.backend import SandboxRepositoryBackend

MiB = 1024 * 1024
Writer = Callable[[Iterator[io.BufferedReader]], Any]


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
    """Yield ``count`` distinct buffered streams over ``payload``, numbered from ``first``."""
    for index in range(first, first + count):
        yield io.BufferedReader(Payload(index, payload), buffer_size=CHUNK_SIZE)


def timed(action: Callable[[], Any]) -> float:
    """Return the seconds ``action`` takes, after flushing earlier writes so they do not weigh on it."""
    os.sync()
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def take_turns(writers: dict[str, Writer], count: int, slices: int, payload: memoryview) -> dict[str, float]:
    """Let every writer store ``count`` objects, ``slices`` slices each in turn; return seconds per writer."""
    seconds = dict.fromkeys(writers, 0.0)
    per_slice = count // slices
    for index in range(slices):
        for name, write in writers.items():
            sources = handles(per_slice, payload, first=index * per_slice)
            seconds[name] += timed(lambda write=write, sources=sources: write(sources))
    return seconds


# ------------------------------------------------------------------------------------------- contestants
def plain_writer(folder: Path, written: list[Path]) -> Writer:
    """Return a writer storing each object in its own file with ``open().write()`` and ``os.fsync``."""
    folder.mkdir(parents=True)

    def write(sources: Iterator[io.BufferedReader]) -> None:
        for source in sources:
            path = folder / f"{len(written)}.bin"
            with open(path, "wb") as target:
                shutil.copyfileobj(source, target, CHUNK_SIZE)
                target.flush()
                os.fsync(target.fileno())
            written.append(path)

    return write


def make_backend(kind: str, folder: Path) -> AbstractRepositoryBackend:
    """Return an initialised, empty repository of ``kind`` (``dos``, ``sandbox-sha256``, ...) under ``folder``."""
    if kind == "dos":
        repository: AbstractRepositoryBackend = DiskObjectStoreRepositoryBackend(filepath=folder / kind)
    else:
        repository = SandboxRepositoryBackend(filepath=folder, key_format=kind.split("-")[1])
    repository.initialise()
    return repository


def single_writer(repository: AbstractRepositoryBackend, keys: list[str]) -> Writer:
    """Return a writer calling ``put_object_from_filelike`` once per object."""
    return lambda sources: keys.extend(map(repository.put_object_from_filelike, sources))


def batch_writer(repository: AbstractRepositoryBackend, keys: list[str]) -> Writer:
    """Return a writer handing all objects of a slice to ``put_objects_from_filelikes`` at once."""
    return lambda sources: keys.extend(repository.put_objects_from_filelikes(sources))


def read_plain(paths: list[Path]) -> None:
    """Read every file back."""
    for path in paths:
        with open(path, "rb") as handle:
            while handle.read(CHUNK_SIZE):
                pass


def read_repository(repository: AbstractRepositoryBackend, keys: list[str]) -> None:
    """Read every object back through ``iter_object_streams`` (the many-objects read path)."""
    for _, stream in repository.iter_object_streams(keys):
        while stream.read(CHUNK_SIZE):
            pass


def contestants(
    folder: Path, backends: list[str]
) -> tuple[dict[str, Writer], dict[str, AbstractRepositoryBackend], dict[str, list]]:
    """Return the writers (plain files, each backend singly, disk-objectstore in batches), repositories and keys."""
    written: dict[str, list] = {"plain": []}
    writers = {"plain": plain_writer(folder / "plain", written["plain"])}
    repositories: dict[str, AbstractRepositoryBackend] = {}
    for kind in backends:
        repositories[kind] = make_backend(kind, folder)
        written[kind] = []
        writers[kind] = single_writer(repositories[kind], written[kind])
    if "dos" in backends:
        repositories["dos batch"] = DiskObjectStoreRepositoryBackend(filepath=folder / "dos-batch")
        repositories["dos batch"].initialise()
        written["dos batch"] = []
        writers["dos batch"] = batch_writer(repositories["dos batch"], written["dos batch"])
    return writers, repositories, written


def run(args: argparse.Namespace) -> dict[str, float]:
    """Run every measurement; return ``{figure: rate}`` (objects/s, MB/s, or seconds for the pack)."""
    results: dict[str, float] = {}

    def record(name: str, value: float, unit: str) -> None:
        results[name] = value
        print(f"  {name:<36} {value:>12,.1f} {unit}", flush=True)

    root = Path(tempfile.mkdtemp(prefix="provstore-bench-", dir=args.dir))
    try:
        print(f"small objects: {args.small:,} x {args.small_size:,} bytes, {args.slices} turns", flush=True)
        folder = root / "small"
        writers, repositories, written = contestants(folder, args.backends)
        small = memoryview(os.urandom(args.small_size - 8))
        for name, seconds in take_turns(writers, args.small, args.slices, small).items():
            record(f"{name} small write", args.small / seconds, "objects/s")
        record("plain small read", args.small / timed(lambda: read_plain(written["plain"])), "objects/s")
        for name, repository in repositories.items():
            seconds = timed(lambda repository=repository, name=name: read_repository(repository, written[name]))
            record(f"{name} small read", args.small / seconds, "objects/s")
        if "dos" in repositories:
            record("dos pack all loose", timed(lambda: repositories["dos"].maintain(live=True)), "s")
            seconds = timed(lambda: read_repository(repositories["dos"], written["dos"]))
            record("dos small read (packed)", args.small / seconds, "objects/s")
        shutil.rmtree(folder)

        for size in args.sizes:
            print(f"large objects: {args.large} x {size} MiB, {args.large_slices} turns", flush=True)
            folder = root / f"large-{size}"
            writers, _, _ = contestants(folder, args.backends)
            payload = memoryview(os.urandom(size * MiB - 8))
            for name, seconds in take_turns(writers, args.large, args.large_slices, payload).items():
                record(f"{name} large write {size} MiB", args.large * size / seconds, "MB/s")
            start = time.perf_counter()
            hashlib.sha256(payload).hexdigest()
            record(f"sha256 of {size} MiB objects", size / (time.perf_counter() - start), "MB/s")
            shutil.rmtree(folder)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return results


def report(results: dict[str, float], sizes: list[int]) -> None:
    """Print the ratios to the ceilings and whether each goal is met."""
    print("\nratios (measured in this run)")
    pairs: list[tuple[str, str, float | None]] = [
        ("dos small write", "plain small write", 0.5),
        ("dos batch small write", "dos small write", 5.0),
        ("dos batch small write", "plain small write", None),
        ("sandbox-sha256 small write", "plain small write", None),
        ("sandbox-uuid4 small write", "plain small write", None),
        ("dos small read", "plain small read", None),
        ("dos small read (packed)", "plain small read", None),
    ]
    for size in sizes:
        pairs += [
            (f"dos large write {size} MiB", f"plain large write {size} MiB", 0.7),
            (f"dos batch large write {size} MiB", f"plain large write {size} MiB", 0.7),
            (f"sandbox-sha256 large write {size} MiB", f"plain large write {size} MiB", None),
            (f"sha256 of {size} MiB objects", f"plain large write {size} MiB", None),
        ]
    for figure, ceiling, goal in pairs:
        if figure in results and ceiling in results:
            ratio = results[figure] / results[ceiling]
            verdict = "" if goal is None else f"  goal >= {goal:.1f}: {'met' if ratio >= goal else 'MISSED'}"
            print(f"  {figure:<36} / {ceiling:<26} = {ratio:6.2f}{verdict}")


def main() -> None:
    """Parse the arguments, describe the machine, run and report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000, help="number of small objects (default 10,000)")
    parser.add_argument("--small-size", type=int, default=1024, help="bytes per small object (default 1024)")
    parser.add_argument("--slices", type=int, default=10, help="turns the small-object writers take (default 10)")
    parser.add_argument("--large", type=int, default=20, help="number of large objects per size (default 20)")
    parser.add_argument("--large-slices", type=int, default=4, help="turns the large-object writers take")
    parser.add_argument("--sizes", type=int, nargs="*", default=[16, 64], help="large object sizes in MiB")
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
