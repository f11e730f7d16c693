"""``provstore storage transfer``: copy a whole store from one profile's storage into another's."""

from __future__ import annotations

import dataclasses
import sys
from typing import TYPE_CHECKING

import click

from provstore.cli.output import echo_json

if TYPE_CHECKING:
    from provstore.config import Profile
    from provstore.storage import StorageBackend
    from provstore.transfer.report import TransferReport

__all__ = ["echo_report", "open_target", "transfer"]


def open_target(profile: Profile) -> StorageBackend:
    """Open the storage of ``profile`` to write into it, initialising it first if it does not exist yet."""
    from provstore import open_storage
    from provstore.plugins import resolve_storage_class

    storage_cls = resolve_storage_class(profile)
    if storage_cls.version_profile(profile) is None:
        storage_cls.initialise(profile)
        click.echo(f"Initialised the storage of profile {profile.name!r}.", err=True)
    return open_storage(profile)


@click.command()
@click.option("--from", "source_name", required=True, metavar="PROFILE", help="Profile to copy from.")
@click.option("--to", "target_name", required=True, metavar="PROFILE", help="Profile to copy into.")
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(min=1), help="Rows per batch.")
@click.option("--merge", is_flag=True, help="Allow a target that already holds other data (same uuids are skipped).")
@click.option("--no-verify", is_flag=True, help="Skip the final comparison of counts and object hashes.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (sizes in bytes).")
def transfer(source_name: str, target_name: str, batch_size: int, merge: bool, no_verify: bool, as_json: bool) -> None:
    """Copy every row, setting and file of one profile's storage into another's (any backends).

    Re-running the same command after an interruption resumes where it stopped. The target's
    storage is initialised first if needed.
    """
    from provstore import load_profile, open_storage
    from provstore.transfer import transfer_storage

    with open_storage(load_profile(source_name)) as source, open_target(load_profile(target_name)) as target:
        report = transfer_storage(
            source, target, batch_size=batch_size, progress=sys.stderr.isatty(), merge=merge, verify=not no_verify
        )
    echo_report(report, as_json)


def echo_report(report: TransferReport, as_json: bool) -> None:
    """Print a transfer's report: its summary for people, or all its fields as JSON (sizes in bytes)."""
    if as_json:
        echo_json(dataclasses.asdict(report))
        return
    for line in report.summary_lines():
        click.echo(line)
