"""``provstore archive``: write a whole store to one portable zip file, inspect one, or import one."""

from __future__ import annotations

import sys

import click

from provstore.archive.format import ArchiveLimits
from provstore.cli.output import echo_json, echo_mapping, plural

__all__ = ["archive"]


def _limit_options(command: click.Command) -> click.Command:
    """Add the options bounding what an archive may expand to (zip-bomb protection)."""
    defaults = ArchiveLimits()
    options = [
        click.option(
            "--max-size",
            type=click.IntRange(min=1),
            default=defaults.max_total_size,
            show_default=True,
            help="Refuse archives expanding to more bytes.",
        ),
        click.option(
            "--max-members",
            type=click.IntRange(min=1),
            default=defaults.max_members,
            show_default=True,
            help="Refuse archives with more members.",
        ),
        click.option(
            "--max-ratio",
            type=click.FloatRange(min=1),
            default=defaults.max_ratio,
            show_default=True,
            help="Refuse members (over 1 MiB) compressed more than this many times.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _limits(max_size: int, max_members: int, max_ratio: float) -> ArchiveLimits:
    return ArchiveLimits(max_total_size=max_size, max_members=max_members, max_ratio=max_ratio)


@click.group()
def archive() -> None:
    """Write a store to one portable archive file, inspect an archive, or import one into a profile."""


@archive.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(min=1), help="Rows per batch.")
@click.option(
    "--format",
    "archive_format",
    type=click.Choice(["provstore", "aiida"]),
    default="provstore",
    show_default=True,
    help="provstore's archive, or an aiida-core 2.x .aiida archive (for `verdi archive import`).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (sizes in bytes).")
@click.pass_obj
def create(state, file: str, batch_size: int, archive_format: str, as_json: bool) -> None:
    """Write every row, setting and file of the profile's storage to the new archive FILE."""
    from provstore import open_storage
    from provstore.archive import create_archive

    with open_storage(state.load_profile()) as storage:
        report = create_archive(
            storage, file, batch_size=batch_size, progress=sys.stderr.isatty(), format=archive_format
        )
    if as_json:
        from provstore.cli.transfer import echo_report

        echo_report(report, as_json=True)
    else:
        nodes, objects = plural(report.entities["nodes"].source, "node"), plural(report.objects.source, "object")
        click.echo(f"Created archive {file}: {nodes}, {objects}.")


@archive.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON (sizes in bytes).")
@_limit_options
def inspect(file: str, as_json: bool, max_size: int, max_members: int, max_ratio: float) -> None:
    """Check the archive FILE (provstore's or aiida-core's) and show its metadata (format, versions, counts, time)."""
    from provstore.archive import inspect_archive

    data = inspect_archive(file, _limits(max_size, max_members, max_ratio))
    if as_json:
        echo_json(data)
    else:
        echo_mapping(data)


@archive.command(name="import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(min=1), help="Rows per batch.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (sizes in bytes).")
@_limit_options
@click.pass_obj
def import_(
    state, file: str, batch_size: int, as_json: bool, max_size: int, max_members: int, max_ratio: float
) -> None:
    """Import the archive FILE (provstore's or aiida-core's .aiida) into the profile's storage, skipping known uuids.

    The storage is initialised first if needed. All rows are written in one transaction: a failure imports none of them.
    """
    from provstore.archive import import_archive
    from provstore.cli.transfer import echo_report, open_target

    limits = _limits(max_size, max_members, max_ratio)
    with open_target(state.load_profile()) as storage:
        report = import_archive(file, storage, batch_size=batch_size, progress=sys.stderr.isatty(), limits=limits)
    echo_report(report, as_json)
