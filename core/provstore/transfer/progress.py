"""Progress bars of a transfer: tqdm when installed, else click's; nothing at all when disabled."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

import click

__all__ = ["progress_bar"]


@contextlib.contextmanager
def progress_bar(label: str, total: int, enabled: bool) -> Iterator[Callable[[int], None]]:
    """Yield a function advancing a bar of ``total`` steps on stderr (a no-op when not ``enabled``)."""
    if not enabled or total <= 0:
        yield lambda _steps: None
        return
    try:
        from tqdm import tqdm
    except ImportError:
        with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
            yield bar.update
        return
    with tqdm(total=total, desc=label, file=sys.stderr, leave=False) as bar:
        yield bar.update
