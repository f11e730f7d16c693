"""Plain-text output helpers shared by the commands: aligned tables and indented mappings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import click

__all__ = ["echo_mapping", "echo_table"]


def echo_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print rows as left-aligned columns under upper-case headers; the last column is not padded."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max([len(header), *(len(row[i]) for row in cells)]) for i, header in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        padded = [value.ljust(width) for value, width in zip(values[:-1], widths[:-1], strict=True)]
        return "  ".join([*padded, values[-1]]).rstrip()

    click.echo(line([header.upper() for header in headers]))
    for row in cells:
        click.echo(line(row))


def echo_mapping(data: Mapping[str, Any], indent: int = 0) -> None:
    """Print a nested mapping as ``key: value`` lines, nested mappings indented under their key."""
    for key, value in data.items():
        if isinstance(value, Mapping) and value:
            click.echo(f"{' ' * indent}{key}:")
            echo_mapping(value, indent + 2)
        else:
            click.echo(f"{' ' * indent}{key}: {value}")
