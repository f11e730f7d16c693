"""Plain-text output helpers shared by the commands: tables that fit the terminal, indented mappings, sizes."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import click

from provstore.text import format_size, plural

__all__ = ["echo_json", "echo_mapping", "echo_table", "format_size", "output_width", "plural"]

_GAP = "  "
_ELLIPSIS = "…"
_MIN_CELL = 8
"""A column is never cut narrower than this (or its header)."""


def output_width() -> int | None:
    """Return the width tables must fit: ``COLUMNS`` if set, the terminal's if stdout is one, else None (no limit)."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    return None


def _cut(value: str, width: int) -> str:
    return value if len(value) <= width else value[: max(width - 1, 0)] + _ELLIPSIS


def _fit(widths: list[int], headers: Sequence[str], limit: int, keep: Sequence[int]) -> list[int]:
    """Narrow columns until a row fits ``limit`` characters: the last (free text) first, then the widest others.

    Columns in ``keep`` (the ones that identify a row) are never cut, no column goes below its header or
    :data:`_MIN_CELL`, and a table that still does not fit is left to wrap.
    """
    widths = list(widths)
    floors = [min(width, max(len(header), _MIN_CELL)) for width, header in zip(widths, headers, strict=True)]
    excess = sum(widths) + len(_GAP) * (len(widths) - 1) - limit
    last = len(widths) - 1
    cut = min(max(excess, 0), widths[last] - floors[last])
    widths[last] -= cut
    excess -= cut
    while excess > 0:
        cuttable = [i for i in range(last) if i not in keep]
        widest = max(cuttable, key=lambda i: widths[i] - floors[i], default=None)
        if widest is None or widths[widest] <= floors[widest]:
            break
        widths[widest] -= 1
        excess -= 1
    return widths


def echo_table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], *, width: int | None = None, keep: Sequence[int] = (0,)
) -> None:
    """Print rows as left-aligned columns under upper-case headers, cutting long cells (with …) to fit ``width``.

    ``width`` defaults to :func:`output_width`; the columns in ``keep`` are never cut. One line per row and
    the last column unpadded, so the table stays readable on a narrow terminal and greppable in a pipe.
    """
    cells = [[" ".join(str(cell).split()) for cell in row] for row in rows]  # one line per cell
    widths = [max([len(header), *(len(row[i]) for row in cells)]) for i, header in enumerate(headers)]
    limit = output_width() if width is None else width
    if limit is not None:
        widths = _fit(widths, headers, limit, keep)

    def line(values: Sequence[str]) -> str:
        cut = [_cut(value, size) for value, size in zip(values, widths, strict=True)]
        padded = [value.ljust(size) for value, size in zip(cut[:-1], widths[:-1], strict=True)]
        return _GAP.join([*padded, cut[-1]]).rstrip()

    click.echo(line([header.upper() for header in headers]))
    for row in cells:
        click.echo(line(row))


_SIZE_KEY = re.compile(r"(^|_)(size|bytes|sizes)(_|$)")
"""Keys whose value is a byte count (``size``, ``file_size``, ``size_bytes``, ``reclaimable_bytes``...)."""
_SIZE_EXCEPTIONS = frozenset({"batch_size"})
_OTHER_SIZE_KEYS = frozenset({"multipart_threshold"})


def _is_size_key(key: object) -> bool:
    if not isinstance(key, str) or key in _SIZE_EXCEPTIONS:
        return False
    return key in _OTHER_SIZE_KEYS or _SIZE_KEY.search(key) is not None


def _for_people(value: Any, size: bool) -> str:
    """Return one value of a mapping as people read it: sizes with units, lists joined, no Python reprs."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if size and isinstance(value, int | float):
        return format_size(value)
    if isinstance(value, Mapping | list | tuple | set | frozenset):
        return ", ".join(str(item) for item in value) if value else "none"
    return str(value)


def echo_mapping(data: Mapping[str, Any], indent: int = 0, *, sizes: bool = False) -> None:
    """Print a nested mapping as ``key: value`` lines for people, nested mappings indented under their key.

    Byte counts (keys such as ``size`` or ``*_bytes``, every value under a ``sizes`` key, or all values
    with ``sizes``) are shown with :func:`format_size`, booleans as yes/no, lists joined with commas, and
    None or an empty mapping as ``-`` or ``none``: never a Python repr.
    """
    for key, value in data.items():
        size = sizes or _is_size_key(key)
        if isinstance(value, Mapping) and value:
            click.echo(f"{' ' * indent}{key}:")
            echo_mapping(value, indent + 2, sizes=size)
        else:
            click.echo(f"{' ' * indent}{key}: {_for_people(value, size)}")


def echo_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout (sizes stay byte counts); values JSON lacks are written as text."""
    click.echo(json.dumps(data, indent=2, default=str))
