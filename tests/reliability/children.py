"""Child processes of the reliability tests: start a script on a profile, wait for its marker, kill it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from provstore.config import Profile

from reliability.figures import record

PRELUDE = """
import json, os, sys, time
from provstore.config import Profile
from provstore.plugins import resolve_storage_class
from provstore.storage import EntityTypes
_data = json.loads(sys.argv[1])
profile = Profile(_data.pop("name"), _data)
MARKER = sys.argv[2]


def signal_and_hang():
    # tell the parent we are inside the operation, then wait for SIGKILL
    with open(MARKER + ".tmp", "w") as handle:
        handle.write(str(os.getpid()))
    os.replace(MARKER + ".tmp", MARKER)
    time.sleep(600)
    raise SystemExit("not killed")
"""
"""Start of every child script: ``profile`` from argv[1], ``signal_and_hang()`` writing the marker argv[2]."""


def profile_argument(profile: Profile) -> str:
    """Return the profile as the JSON argument the children read."""
    return json.dumps({"name": profile.name, **profile.dictionary})


def start_child(profile: Profile, code: str, marker: Path, *args: str) -> subprocess.Popen[str]:
    """Start ``PRELUDE + code`` in a new Python process on ``profile``."""
    record("processes started")
    return subprocess.Popen(
        [sys.executable, "-c", PRELUDE + code, profile_argument(profile), str(marker), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_at_marker(child: subprocess.Popen[str], marker: Path, timeout: float = 120) -> None:
    """Wait until the child wrote ``marker`` (it is then inside the operation), then SIGKILL it.

    :raises AssertionError: the child exited before reaching the marker, or took longer than ``timeout``.
    """
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if child.poll() is not None:
            _, stderr = child.communicate()
            raise AssertionError(f"child exited with {child.returncode} before its marker:\n{stderr}")
        if time.monotonic() > deadline:
            child.kill()
            raise AssertionError("child did not reach its marker in time")
        time.sleep(0.01)
    os.kill(child.pid, signal.SIGKILL)
    child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL
    record("processes killed with SIGKILL")
