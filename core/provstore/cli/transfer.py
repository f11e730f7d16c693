"""``provstore storage transfer``: copy a whole store from one profile's storage into another's."""

from __future__ import annotations

import sys

import click

__all__ = ["transfer"]


@click.command()
@click.option("--from", "source_name", required=True, metavar="PROFILE", help="Profile to copy from.")
@click.option("--to", "target_name", required=True, metavar="PROFILE", help="Profile to copy into.")
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(min=1), help="Rows per batch.")
@click.option("--merge", is_flag=True, help="Allow a target that already holds other data (same uuids are skipped).")
@click.option("--no-verify", is_flag=True, help="Skip the final comparison of counts and object hashes.")
def transfer(source_name: str, target_name: str, batch_size: int, merge: bool, no_verify: bool) -> None:
    """Copy every row, setting and file of one profile's storage into another's (any backends).

    Re-running the same command after an interruption resumes where it stopped. The target's
    storage is initialised first if needed.
    """
    from provstore import load_profile, open_storage
    from provstore.transfer import transfer_storage

    source_profile, target_profile = load_profile(source_name), load_profile(target_name)
    target_cls = target_profile.storage_cls
    if target_cls.version_profile(target_profile) is None:
        target_cls.initialise(target_profile)
        click.echo(f"Initialised the storage of profile {target_name!r}.", err=True)
    with open_storage(source_profile) as source, open_storage(target_profile) as target:
        report = transfer_storage(
            source, target, batch_size=batch_size, progress=sys.stderr.isatty(), merge=merge, verify=not no_verify
        )
    for line in report.summary_lines():
        click.echo(line)
