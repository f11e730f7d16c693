"""``provstore storage``: information, schema version, migration and maintenance of the selected profile."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from provstore.cli.output import echo_json, echo_mapping

if TYPE_CHECKING:
    from provstore.cli.root import CliState
    from provstore.config import Profile
    from provstore.storage import StorageBackend

__all__ = ["storage"]


@click.group()
def storage() -> None:
    """Inspect and maintain the storage of a profile (choose it with 'provstore -p NAME')."""


@storage.command()
@click.option("--detailed", is_flag=True, help="Include detailed statistics (slower).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (sizes in bytes).")
@click.pass_obj
def info(state: CliState, detailed: bool, as_json: bool) -> None:
    """Show entity counts and repository information of the storage."""
    from provstore import open_storage

    selected = state.load_profile()
    with open_storage(selected) as backend:
        data = backend.get_info(detailed=detailed)
    if as_json:
        echo_json({"profile": selected.name, "storage_backend": selected.storage_backend, **data})
    else:
        click.echo(f"profile: {selected.name} ({selected.storage_backend})")
        echo_mapping(data)


def version_advice(storage_cls: type[StorageBackend], profile: Profile, current: str | None) -> str | None:
    """Return what to do about a storage at schema ``current`` that is not the code's (None: nothing to do).

    A backend may say it itself (``version_advice``, e.g. stores read in place, which never migrate).
    """
    if current is None or current == storage_cls.version_head():
        return None
    custom = getattr(storage_cls, "version_advice", None)
    if custom is not None:
        return custom(profile, current)
    return f"The storage needs migrating: run 'provstore -p {profile.name} storage migrate'."


@storage.command()
@click.pass_obj
def init(state: CliState) -> None:
    """Initialise the storage and repository of a profile that is configured but not initialised yet.

    For a profile written into config.json by hand (or whose storage was removed). The new storage is opened
    once to check it, as 'profile setup' does, and deleted again if it does not work. A storage that is
    initialised already is left untouched: the command says so and exits with 0, so it is safe to repeat.
    """
    from provstore.cli.profile import initialise_storage

    click.echo(initialise_storage(state.load_profile()))


@storage.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def version(state: CliState, as_json: bool) -> None:
    """Show the schema version of the storage and the version this code expects."""
    from provstore.plugins import resolve_storage_class

    selected = state.load_profile()
    storage_cls = resolve_storage_class(selected)
    head, current = storage_cls.version_head(), storage_cls.version_profile(selected)
    advice = version_advice(storage_cls, selected, current)
    if as_json:
        echo_json(
            {
                "profile": selected.name,
                "code_schema_version": head,
                "storage_schema_version": current,
                "up_to_date": current == head,
                "advice": advice,
            }
        )
        return
    click.echo(f"code schema version:    {head}")
    click.echo(f"storage schema version: {current if current is not None else 'not initialised'}")
    if advice:
        click.echo(advice)


@storage.command()
@click.pass_obj
def migrate(state: CliState) -> None:
    """Migrate the storage's schema to the version of this code."""
    from provstore.plugins import resolve_storage_class

    selected = state.load_profile()
    storage_cls = resolve_storage_class(selected)
    before = storage_cls.version_profile(selected)
    storage_cls.migrate(selected)
    after = storage_cls.version_profile(selected)
    if before == after:
        click.echo(f"Storage of profile {selected.name!r} is already at schema version {after}.")
    else:
        click.echo(f"Migrated storage of profile {selected.name!r} from schema version {before} to {after}.")


@storage.command()
@click.option("--full", is_flag=True, help="Full maintenance; needs exclusive use of the profile.")
@click.option("--dry-run", is_flag=True, help="Only report what would be done.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (sizes in bytes).")
@click.pass_obj
def maintain(state: CliState, full: bool, dry_run: bool, as_json: bool) -> None:
    """Perform maintenance of the storage (repository packing and cleaning).

    A repository that reports progress (core.diskobjectstore: packing, repacking, cleaning) draws a bar
    with counts on stderr when stderr is a terminal.
    """
    from provstore import open_storage

    selected = state.load_profile()
    with open_storage(selected) as backend:
        result = backend.maintain(full=full, dry_run=dry_run)
    if as_json:
        echo_json({"profile": selected.name, "full": full, "dry_run": dry_run, "report": result})
        return
    click.echo(("Dry run of " if dry_run else "") + f"{'full' if full else 'live'} maintenance of {selected.name!r}:")
    echo_mapping(result or {"nothing to do": True}, indent=2)
