"""Start-up: cold ``provstore`` commands against ``python -c pass``, and opening a ``core.sqlite_dos`` profile.

Every figure is a fresh interpreter process (the OS file cache is warm, as for any second run of a command);
the commands are run interleaved, ``--repeat`` times each, and the median wall time is kept, so every
ratio compares timings taken under the same machine load.

    python benchmarks/startup.py                  # 10,000 nodes in the profile, 9 runs per command

The profile figure is measured inside the fresh process: from before ``import provstore`` to the node count
(``open_storage()`` of the default profile, then ``query().append("node").count()``). The goal is < 300 ms.

Compiled bytecode is cached, as for any user's second run (``--bytecode cached``, the default): the processes
write and read it in a folder of their own (``PYTHONPYCACHEPREFIX``), filled by a warm-up round that is not
timed. ``--bytecode off`` sets ``PYTHONDONTWRITEBYTECODE=1`` instead, as some sandboxes and CI images do:
every process then compiles provstore's sources again (an editable install has no compiled files of its own).
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

OPEN_AND_COUNT = """
import time
start = time.perf_counter()
import provstore
with provstore.open_storage() as storage:
    count = storage.query().append("node").count()
print(f"{(time.perf_counter() - start) * 1000:.1f} {count}")
"""
"""Run in a fresh interpreter: prints the milliseconds from ``import provstore`` to the node count, and the count."""


def console_script() -> str:
    """Return the ``provstore`` console script next to this interpreter (not a shell shim in front of it)."""
    candidate = Path(sys.executable).with_name("provstore")
    if not candidate.exists():
        raise SystemExit(f"no provstore console script next to {sys.executable}: pip install -e . first")
    return str(candidate)


def wall_time(command: list[str], environment: dict[str, str]) -> tuple[float, str]:
    """Return the seconds ``command`` takes as a fresh process and its standard output."""
    start = time.perf_counter()
    done = subprocess.run(command, env=environment, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, done.stdout


def bytecode_environment(environment: dict[str, str], bytecode: str, folder: Path) -> dict[str, str]:
    """Return ``environment`` with bytecode caching on (in ``folder``) or off, whatever the caller's setting."""
    environment = dict(environment)
    if bytecode == "cached":
        environment.pop("PYTHONDONTWRITEBYTECODE", None)
        environment["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
    else:
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
        environment.pop("PYTHONPYCACHEPREFIX", None)
    return environment


def make_profile(environment: dict[str, str], nodes: int) -> None:
    """Create the default ``core.sqlite_dos`` profile (``provstore presto``) and insert ``nodes`` nodes."""
    subprocess.run([console_script(), "presto"], env=environment, check=True, capture_output=True)
    fill = (
        "import provstore\n"
        "from provstore.storage import EntityTypes\n"
        "with provstore.open_storage() as storage:\n"
        "    user = storage.default_user.pk\n"
        f"    rows = ({{'node_type': 'data.core.Int.', 'user_id': user, 'attributes': {{'value': i}}}} "
        f"for i in range({nodes}))\n"
        "    storage.bulk_insert(EntityTypes.NODE, rows, allow_defaults=True)\n"
    )
    subprocess.run([sys.executable, "-c", fill], env=environment, check=True)


def main(argv: list[str] | None = None) -> int:
    """Measure every command interleaved, print the medians and the ratios to ``python -c pass``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9, help="runs per command; the median is kept")
    parser.add_argument("--nodes", type=int, default=10_000, help="nodes in the profile that is opened")
    parser.add_argument(
        "--bytecode",
        choices=("cached", "off"),
        default="cached",
        help="cached: compiled modules are reused as on any second run; off: PYTHONDONTWRITEBYTECODE=1",
    )
    args = parser.parse_args(argv)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, ", end="")
    print(f"{platform.platform()}; load average {os.getloadavg()[0]:.1f}")

    script = console_script()
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "provstore --version": [script, "--version"],
        "provstore plugin list": [script, "plugin", "list"],
        "open profile + count nodes": [sys.executable, "-c", OPEN_AND_COUNT],
    }
    with tempfile.TemporaryDirectory(prefix="provstore-bench-") as folder:
        environment = bytecode_environment({**os.environ, "PROVSTORE_CONFIG_DIR": folder}, args.bytecode, Path(folder))
        print(f"bytecode: {args.bytecode}")
        make_profile(environment, args.nodes)
        for command in commands.values():  # warm-up round, not timed: fills the bytecode cache
            wall_time(command, environment)
        walls: dict[str, list[float]] = {name: [] for name in commands}
        inside: list[float] = []
        for _ in range(args.repeat):
            for name, command in commands.items():
                seconds, output = wall_time(command, environment)
                walls[name].append(seconds)
                if name == "open profile + count nodes":
                    milliseconds, count = output.split()
                    if int(count) != args.nodes:
                        raise SystemExit(f"counted {count} nodes, expected {args.nodes}")
                    inside.append(float(milliseconds))

    ceiling = statistics.median(walls["python -c pass"])
    for name, timings in walls.items():
        median = statistics.median(timings)
        print(f"{name:<28} {median * 1000:7.0f} ms  = {median / ceiling:4.1f} x python -c pass")
    for name in ("provstore --version", "provstore plugin list"):
        ratio = statistics.median(walls[name]) / ceiling
        print(f"goal {name} <= 5 x python -c pass: {'met' if ratio <= 5 else 'MISSED'} ({ratio:.1f} x)")
    opened = statistics.median(inside)
    print(
        f"open core.sqlite_dos profile + count {args.nodes} nodes, inside the process (import provstore included): "
        f"{opened:.0f} ms; goal < 300 ms: {'met' if opened < 300 else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
