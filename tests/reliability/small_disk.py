"""A small real filesystem for the full-disk tests: a tmpfs of a given size, mounted by the test, and a filler."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["SmallDisk", "small_disk"]


class SmallDisk:
    """A mounted tmpfs at ``root``: :meth:`fill` takes its free space, :meth:`free` gives it back."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.filler = root / "filler"

    def free_bytes(self) -> int:
        """Return the bytes free on the filesystem."""
        stat = os.statvfs(self.root)
        return stat.f_bavail * stat.f_frsize

    def fill(self, leave: int = 0) -> None:
        """Write the filler file until at most ``leave`` bytes stay free (0: until the disk is full)."""
        chunk = b"\0" * 65536
        with open(self.filler, "ab") as out:
            while True:
                room = self.free_bytes() - leave
                if room <= 0:
                    break
                try:
                    out.write(chunk[: min(len(chunk), room)])
                    out.flush()
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
                    break

    def free(self) -> None:
        """Delete the filler: the space it took is free again."""
        self.filler.unlink(missing_ok=True)

    def remount(self, option: str) -> None:
        """Remount the filesystem with ``option`` (``ro`` or ``rw``)."""
        subprocess.run(["mount", "-o", f"remount,{option}", str(self.root)], check=True, capture_output=True)


@contextlib.contextmanager
def small_disk(tmp_path: Path, size: str = "32m") -> Iterator[SmallDisk]:
    """Mount a tmpfs of ``size`` under ``tmp_path`` for the block (skip the test where mounting is not allowed)."""
    root = tmp_path / "disk"
    root.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(root)], capture_output=True, text=True
    )
    if result.returncode:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {result.stderr.strip() or result.returncode}")
    try:
        yield SmallDisk(root)
    finally:
        subprocess.run(["umount", "-l", str(root)], capture_output=True)
