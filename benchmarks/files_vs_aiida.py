"""Reading and packing files: provstore's ``core.diskobjectstore`` beside plain files and, if given, aiida-core.

One workload, run in fresh worker processes that take turns round by round (so that a change of load on the
shared machine weighs on all of them alike): N small objects (default 10,000 x 1 KiB), 1,000 of them read one by one
with ``get_object_content`` and with ``open``, and all at once with ``iter_object_streams``, loose, then packed;
packing them (``maintain(live=False)`` on a fresh copy of the loose container) and full maintenance of the
result; and large objects (default 20 x 16 MiB) streamed loose and packed, with the peak of Python memory.

The ceilings are measured inside each worker, taking turns with its single reads slice by slice: plain
``open()+read()`` of each loose file; for packed objects ``open()+seek()+read()`` of the pack file at the
object's known offset, per object, and ``seek()+read()`` on a pack file held open. aiida-core runs its own
``DiskObjectStoreRepositoryBackend`` (which uses disk-objectstore's API) on the same containers.

    python benchmarks/files_vs_aiida.py                                              # provstore and ceilings
    python benchmarks/files_vs_aiida.py --aiida-python /work/venvs/aiida/bin/python  # and aiida-core
    python benchmarks/files_vs_aiida.py --objects 2000 --large 2 --rounds 1          # quick
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

MiB = 1024 * 1024
CHUNK = MiB


# ------------------------------------------------------------------------------------------------ workers
def _repository(kind: str, folder: str) -> Any:
    """Return the repository of ``kind`` (``provstore`` or ``aiida``) on the container in ``folder``."""
    if kind == "aiida":
        from aiida.repository.backend import DiskObjectStoreRepositoryBackend as AiidaBackend
        from disk_objectstore import Container

        return AiidaBackend(Container(folder))
    from provstore_diskobjectstore.backend import DiskObjectStoreRepositoryBackend

    return DiskObjectStoreRepositoryBackend(filepath=folder)


def _rate(count: int, action: Callable[[], Any]) -> float:
    """Return ``count`` divided by the seconds ``action`` takes."""
    start = time.perf_counter()
    action()
    return count / (time.perf_counter() - start)


def _drain(stream: Any) -> int:
    """Read ``stream`` to its end in chunks; return the bytes read."""
    total = 0
    while chunk := stream.read(CHUNK):
        total += len(chunk)
    return total


def _plain_readers(folder: str, keys: list[str], packed: bool) -> dict[str, Callable[[list[int]], None]]:
    """Return the ceilings: functions reading objects (by position in ``keys``) without any repository code.

    Loose: ``open()+read()`` of each file. Packed: ``open()+seek()+read()`` of the pack file at the object's
    offset, and ``seek()+read()`` on a pack file held open (offsets looked up in the index beforehand).
    """
    if not packed:
        paths = [os.path.join(folder, "loose", key[:2], key[2:]) for key in keys]

        def open_read(positions: list[int]) -> None:
            for position in positions:
                with open(paths[position], "rb") as handle:
                    handle.read()

        return {"ceiling open+read": open_read}
    index = sqlite3.connect(os.path.join(folder, "packs.idx"))
    where = {
        key: (os.path.join(folder, "packs", str(pack)), offset, length)
        for key, pack, offset, length in index.execute("SELECT hashkey, pack_id, offset, length FROM db_object")
    }
    index.close()
    located = [where[key] for key in keys]
    handles = {path: open(path, "rb") for path, _, _ in located}

    def open_seek_read(positions: list[int]) -> None:
        for position in positions:
            path, offset, length = located[position]
            with open(path, "rb") as handle:
                handle.seek(offset)
                handle.read(length)

    def seek_read(positions: list[int]) -> None:
        for position in positions:
            path, offset, length = located[position]
            handle = handles[path]
            handle.seek(offset)
            handle.read(length)

    return {"ceiling open+seek+read": open_seek_read, "ceiling seek+read": seek_read}


def _reads(kind: str, folder: str, keys: list[str], single: int, packed: bool) -> dict[str, float]:
    """Time single reads of the first ``single`` keys against the ceilings, then ``iter_object_streams`` of all.

    The single reads (``get_object_content``, ``open``) and the ceilings take turns in slices of 50 objects
    in this process, the first of each slice rotating, so that they are measured under the same load.
    """
    repository = _repository(kind, folder)
    chosen = keys[:single]

    def content(positions: list[int]) -> None:
        for position in positions:
            repository.get_object_content(chosen[position])

    def opened(positions: list[int]) -> None:
        for position in positions:
            with repository.open(chosen[position]) as handle:
                handle.read()

    readers = {**_plain_readers(folder, chosen, packed), "get_object_content": content, "open": opened}
    for read in readers.values():  # warm the code paths and the page cache
        read(list(range(min(50, len(chosen)))))
    seconds = dict.fromkeys(readers, 0.0)
    names = list(readers)
    for turn, start in enumerate(range(0, len(chosen), 50)):
        positions = list(range(start, min(start + 50, len(chosen))))
        for name in names[turn % len(names) :] + names[: turn % len(names)]:  # who goes first rotates
            read = readers[name]
            began = time.perf_counter()
            read(positions)
            seconds[name] += time.perf_counter() - began
    figures = {name: len(chosen) / value for name, value in seconds.items()}

    def iterate() -> None:
        count = sum(1 for _, stream in repository.iter_object_streams(keys) if _drain(stream) >= 0)
        assert count == len(keys), count

    figures["iter_object_streams"] = _rate(len(keys), iterate)
    return figures


def _maintain(kind: str, folder: str) -> dict[str, float]:
    """Time ``maintain(live=False)`` on a container of loose objects (packing), then again (full maintenance)."""
    repository = _repository(kind, folder)
    figures = {}
    for name in ("pack (maintain live=False)", "full maintenance after"):
        start = time.perf_counter()
        repository.maintain(live=False)
        figures[name] = time.perf_counter() - start
    return figures


def _large(kind: str, folder: str, keys: list[str]) -> dict[str, float]:
    """Stream the large objects with ``iter_object_streams``; MB/s and the peak of Python memory in MiB."""
    repository = _repository(kind, folder)
    tracemalloc.start()
    start = time.perf_counter()
    total = sum(_drain(stream) for _, stream in repository.iter_object_streams(keys))
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"large iter_object_streams MB/s": total / MiB / seconds, "large peak memory MiB": peak / MiB}


def worker(args: argparse.Namespace) -> None:
    """Run one task in this process and print its figures as JSON."""
    keys = json.loads(Path(args.keys).read_text()) if args.keys else []
    if args.task == "reads":
        figures = _reads(args.kind, args.container, keys, args.single, packed=args.packed)
    elif args.task == "maintain":
        figures = _maintain(args.kind, args.container)
    else:
        figures = _large(args.kind, args.container, keys)
    print(json.dumps(figures))


# ------------------------------------------------------------------------------------------------- driver
def make_loose_container(folder: Path, contents: list[bytes]) -> list[str]:
    """Create a disk-objectstore container holding ``contents`` as loose objects; return their keys."""
    from provstore_diskobjectstore.backend import DiskObjectStoreRepositoryBackend

    DiskObjectStoreRepositoryBackend(filepath=folder).initialise()
    keys = []
    for content in contents:  # written as disk-objectstore lays them out, without an fsync per file
        key = hashlib.sha256(content).hexdigest()
        (folder / "loose" / key[:2]).mkdir(exist_ok=True)
        (folder / "loose" / key[:2] / key[2:]).write_bytes(content)
        keys.append(key)
    return keys


class Driver:
    """Runs the workers and collects their figures: ``{(phase, figure, contestant): [value per round]}``."""

    def __init__(self, args: argparse.Namespace, root: Path) -> None:
        self.args = args
        self.root = root
        self.figures: dict[tuple[str, str, str], list[float]] = {}
        self.pythons = {"provstore": sys.executable}
        if args.aiida_python:
            self.pythons["aiida"] = args.aiida_python
        self.env = {**os.environ, "AIIDA_PATH": str(root / "aiida-config")}

    def run(self, contestant: str, task: str, container: Path, keys: list[str] | None, phase: str, **extra) -> None:
        """Run one worker and record its figures under ``phase``."""
        keys_file = self.root / "keys.json"
        if keys is not None:
            keys_file.write_text(json.dumps(keys))
        command = [self.pythons[contestant], __file__, "--worker", task, "--kind", contestant]
        command += ["--container", str(container), "--keys", str(keys_file) if keys is not None else ""]
        command += ["--packed"] if extra.get("packed") else []
        command += ["--single", str(self.args.single)]
        done = subprocess.run(command, capture_output=True, text=True, env=self.env, check=False)
        if done.returncode:
            raise SystemExit(f"{contestant} {task} failed:\n{done.stderr}")
        for name, value in json.loads(done.stdout.strip().splitlines()[-1]).items():
            self.figures.setdefault((phase, name, contestant), []).append(value)
            print(f"  {phase:<7} {name:<32} {contestant:<10} {value:>12,.2f}", flush=True)

    def round(self, number: int, loose: Path, keys: list[str], large: Path | None, large_keys: list[str]) -> None:
        """Run every task once for every contestant, in an order that alternates from round to round."""
        contestants = list(self.pythons)
        if number % 2:
            contestants.reverse()
        shuffled = random.Random(number).sample(keys, len(keys))
        for name in contestants:
            self.run(name, "reads", loose, shuffled, "loose")
        packed = None
        for name in contestants:
            copy = self.root / f"pack-{name}"
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(loose, copy)
            os.sync()
            self.run(name, "maintain", copy, None, "pack")
            if packed is None or name == "provstore":
                packed = copy
        assert packed is not None
        for name in contestants:
            self.run(name, "reads", packed, shuffled, "packed", packed=True)
        if large is not None:
            for name in contestants:
                self.run(name, "large", large, large_keys, "loose")
            large_packed = self.root / "large-packed"
            if not large_packed.exists():
                shutil.copytree(large, large_packed)
                self.run("provstore", "maintain", large_packed, None, "setup")
            for name in contestants:
                self.run(name, "large", large_packed, large_keys, "packed")

    def report(self) -> None:
        """Print the median of every figure with its ratios to the ceiling (of provstore's worker) and to aiida-core."""
        ceilings = {"loose": "ceiling open+read", "packed": "ceiling open+seek+read"}
        goals = {
            ("loose", "get_object_content"): ("ceiling", 0.5),
            ("loose", "open"): ("ceiling", 0.5),
            ("packed", "get_object_content"): ("ceiling", 0.3),
            ("packed", "open"): ("ceiling", 0.3),
            ("loose", "iter_object_streams"): ("aiida", 2.0),
            ("packed", "iter_object_streams"): ("aiida", 2.0),
            ("pack", "pack (maintain live=False)"): ("aiida", 0.5),
            ("pack", "full maintenance after"): ("aiida", 0.5),
        }
        medians = {key: statistics.median(values) for key, values in self.figures.items()}
        print("\nmedians (objects/s unless named; maintenance in seconds, lower is better)")
        print(
            f"  {'phase':<7} {'figure':<32} {'provstore':>12} {'aiida-core':>12} {'ceiling':>12} "
            f"{'/ ceiling':>10} {'/ aiida':>8}  goal"
        )
        for phase, name in dict.fromkeys((phase, name) for phase, name, _ in medians):
            if phase == "setup":
                continue
            ours, theirs = medians.get((phase, name, "provstore")), medians.get((phase, name, "aiida"))
            single = name in ("get_object_content", "open")
            ceiling = medians.get((phase, ceilings[phase], "provstore")) if single else None
            to_ceiling = f"{ours / ceiling:10.2f}" if ours and ceiling else " " * 10
            to_aiida = f"{ours / theirs:8.2f}" if ours and theirs else " " * 8
            verdict = ""
            if (phase, name) in goals and ours:
                against, bound = goals[phase, name]
                ratio = ours / ceiling if against == "ceiling" and ceiling else (ours / theirs if theirs else None)
                if ratio is not None:
                    met = ratio <= bound if phase == "pack" else ratio >= bound
                    verdict = f"{'<=' if phase == 'pack' else '>='} {bound} x {against}: {'met' if met else 'MISSED'}"
            print(
                f"  {phase:<7} {name:<32} {ours or 0:>12,.1f} {theirs or 0:>12,.1f} {ceiling or 0:>12,.1f} "
                f"{to_ceiling} {to_aiida}  {verdict}"
            )


def main() -> None:
    """Parse the arguments; run a worker task, or drive the whole comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10_000, help="small objects (default 10,000)")
    parser.add_argument("--size", type=int, default=1024, help="bytes per small object (default 1024)")
    parser.add_argument(
        "--single", type=int, default=1000, help="objects read one by one, of the small ones (default 1,000)"
    )
    parser.add_argument("--large", type=int, default=20, help="large objects (default 20; 0 skips them)")
    parser.add_argument("--large-size", type=int, default=16, help="MiB per large object (default 16)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; medians are reported (default 3)")
    parser.add_argument("--aiida-python", help="python of a venv with aiida-core, to run it side by side")
    parser.add_argument("--dir", default=None, help="folder on the disk to measure (default: system temp)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--kind", help=argparse.SUPPRESS)
    parser.add_argument("--container", help=argparse.SUPPRESS)
    parser.add_argument("--keys", help=argparse.SUPPRESS)
    parser.add_argument("--packed", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.task = args.worker
        worker(args)
        return
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    print(
        f"machine: {platform.machine()} {os.cpu_count()} CPUs, {platform.platform()}, python "
        f"{platform.python_version()}; commit {commit.stdout.strip() or '?'}; load average at start "
        + " ".join(f"{value:.2f}" for value in os.getloadavg())
    )
    root = Path(tempfile.mkdtemp(prefix="provstore-files-", dir=args.dir))
    try:
        rng = random.Random(0)
        payload = rng.randbytes(args.size - 8)
        keys = make_loose_container(
            root / "loose", [index.to_bytes(8, "little") + payload for index in range(args.objects)]
        )
        large, large_keys = None, []
        if args.large:
            block = rng.randbytes(args.large_size * MiB - 8)
            large = root / "large"
            large_keys = make_loose_container(
                large, [index.to_bytes(8, "little") + block for index in range(args.large)]
            )
        os.sync()
        driver = Driver(args, root)
        for number in range(args.rounds):
            print(f"round {number + 1} of {args.rounds}", flush=True)
            driver.round(number, root / "loose", keys, large, large_keys)
        print("load average at end: " + " ".join(f"{value:.2f}" for value in os.getloadavg()))
        driver.report()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
