"""``provstore storage info`` as a fresh process against ``python -c pass`` plus the import cost of SQLAlchemy.

Issue 19 item 5: on a ``core.sqlite_dos`` profile of 50,000 nodes and 20,000 objects (half packed),
``provstore -p NAME storage info`` must take at most 3 x the ceiling, where the ceiling is
``python -c pass`` plus the import cost of SQLAlchemy (``python -c "import sqlalchemy"`` minus ``python -c
pass``), i.e. the wall time of ``python -c "import sqlalchemy"``, all measured in the same run.

    python benchmarks/storage_info.py               # 9 rounds
    python benchmarks/storage_info.py --detailed    # also time 'storage info --detailed'

The profile is built once in a temporary configuration folder (``provstore presto``, ``bulk_insert`` of the
nodes, 10,000 objects by batch write then packed, 10,000 more left loose). One untimed warm-up round fills the
bytecode cache (as on any user's second run); then each round runs every command once as a fresh process, in
an order that alternates between rounds, and the medians are reported.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROFILE = "bench"

FILL = f"""
import io, sys
import provstore
from provstore.storage import EntityTypes
nodes, objects = int(sys.argv[1]), int(sys.argv[2])
with provstore.open_storage(provstore.load_profile({PROFILE!r})) as storage:
    user = storage.default_user.pk
    rows = ({{"node_type": "data.core.Int.", "user_id": user, "attributes": {{"value": i}}}} for i in range(nodes))
    storage.bulk_insert(EntityTypes.NODE, rows, allow_defaults=True)
    repository = storage.get_repository()
    half = objects // 2
    repository.put_objects_from_filelikes(io.BytesIO(b"packed %d" % i) for i in range(half))
    repository.maintain(live=False)
    for i in range(objects - half):
        repository.put_object_from_filelike(io.BytesIO(b"loose %d" % i))
    info = storage.get_info()
print(info["repository"]["objects"], info["entities"]["nodes"])
"""
"""Run once in a fresh interpreter: fills the profile and prints its object counts and node count."""


def console_script() -> str:
    """Return the ``provstore`` console script next to this interpreter."""
    candidate = Path(sys.executable).with_name("provstore")
    if not candidate.exists():
        raise SystemExit(f"no provstore console script next to {sys.executable}: pip install -e . first")
    return str(candidate)


def wall_time(command: list[str], environment: dict[str, str]) -> float:
    """Return the seconds ``command`` takes as a fresh process (it must succeed)."""
    start = time.perf_counter()
    subprocess.run(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)
    return time.perf_counter() - start


def make_profile(script: str, environment: dict[str, str], nodes: int, objects: int) -> None:
    """Create the ``core.sqlite_dos`` profile :data:`PROFILE`, fill it with ``nodes`` nodes and ``objects`` objects."""
    subprocess.run([script, "presto", "--profile-name", PROFILE], env=environment, check=True, capture_output=True)
    done = subprocess.run(
        [sys.executable, "-c", FILL, str(nodes), str(objects)],
        env=environment,
        check=True,
        capture_output=True,
        text=True,
    )
    print(f"profile {PROFILE!r}: {done.stdout.strip()} (objects: loose/packed, then nodes)")


def main(argv: list[str] | None = None) -> int:
    """Time the commands in alternating rounds and print the medians, the ratios to the ceiling and the verdict."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9, help="timed rounds; medians are reported")
    parser.add_argument("--nodes", type=int, default=50_000)
    parser.add_argument("--objects", type=int, default=20_000)
    parser.add_argument("--detailed", action="store_true", help="also time 'storage info --detailed'")
    args = parser.parse_args(argv)
    load_start = os.getloadavg()[0]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")

    script = console_script()
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import sqlalchemy'": [sys.executable, "-c", "import sqlalchemy"],
        "provstore storage info": [script, "-p", PROFILE, "storage", "info"],
    }
    if args.detailed:
        commands["provstore storage info --detailed"] = [script, "-p", PROFILE, "storage", "info", "--detailed"]
    with tempfile.TemporaryDirectory(prefix="provstore-bench-") as folder:
        environment = {**os.environ, "PROVSTORE_CONFIG_DIR": folder, "PYTHONPYCACHEPREFIX": str(Path(folder) / "pyc")}
        environment.pop("PYTHONDONTWRITEBYTECODE", None)
        make_profile(script, environment, args.nodes, args.objects)
        for command in commands.values():  # warm-up, not timed: fills the bytecode cache and the OS file cache
            wall_time(command, environment)
        walls: dict[str, list[float]] = {name: [] for name in commands}
        order = list(commands)
        for round_number in range(args.rounds):
            for name in order if round_number % 2 == 0 else reversed(order):
                walls[name].append(wall_time(commands[name], environment))
    load_end = os.getloadavg()[0]

    medians = {name: statistics.median(timings) for name, timings in walls.items()}
    python_pass = medians["python -c pass"]
    ceiling = python_pass + (medians["python -c 'import sqlalchemy'"] - python_pass)
    print(f"load average: {load_start:.1f} at start, {load_end:.1f} at end; {args.rounds} rounds")
    for name, median in medians.items():
        print(f"{name:<36} {median * 1000:7.0f} ms = {median / ceiling:5.2f} x the ceiling")
    print(f"ceiling: python -c pass + import cost of SQLAlchemy = {ceiling * 1000:.0f} ms")
    ratio = medians["provstore storage info"] / ceiling
    print(f"goal 'storage info' <= 3 x the ceiling: {'met' if ratio <= 3 else 'MISSED'} ({ratio:.2f} x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
