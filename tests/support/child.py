"""Run a Python snippet in a child process that receives the profile, as another program using the store would."""

from __future__ import annotations

import json
import subprocess
import sys

from provstore.config import Profile


def run_with_profile(script: str, profile: Profile) -> str:
    """Run ``script`` with the profile's dictionary as ``sys.argv[1]`` (JSON) and return its stripped stdout."""
    result = subprocess.run(
        [sys.executable, "-c", script, json.dumps(profile.dictionary)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout.strip()
