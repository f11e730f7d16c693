"""``provstore storage adopt``, added to the ``storage`` group by this plugin (light: the work is imported when run)."""

from __future__ import annotations

from pathlib import Path

import click

ADOPTABLE_BACKENDS = ("core.aiida_sqlite_dos", "core.sqlite_dos")


@click.command()
@click.option("--dry-run", is_flag=True, help="Only list what would change; write nothing.")
@click.pass_obj
def adopt(state, dry_run: bool) -> None:
    """Turn the profile's aiida-core 2.9 sqlite_dos folder into a provstore core.sqlite_dos store, in place.

    The container stays; the database is rebuilt with provstore's schema beside the old one and moved into
    place only once verified (aiida-core's is kept as database.sqlite.aiida). The profile then uses
    core.sqlite_dos. Refused while another process has the database open; a failure changes nothing.
    """
    from provstore.config import Config, Profile
    from provstore.exceptions import ValidationError

    from provstore_aiida.adopt import adopt_sqlite_dos

    profile = state.load_profile()
    if profile.storage_backend not in ADOPTABLE_BACKENDS:
        raise ValidationError(
            f"profile {profile.name!r} uses {profile.storage_backend}: adopt takes a profile of "
            f"{' or '.join(ADOPTABLE_BACKENDS)} pointing at an aiida-core sqlite_dos folder"
        )
    folder = Path(profile.storage_config["filepath"])
    plan = adopt_sqlite_dos(folder, dry_run=dry_run)
    click.echo(f"{'Would adopt' if dry_run else 'Adopted'} {plan.folder} for profile {profile.name!r}:")
    for change in plan.changes:
        click.echo(f"  {change}")
    if not dry_run and profile.storage_backend != "core.sqlite_dos":
        with Config.edit() as config:
            adopted = Profile(
                profile.name,
                {
                    **profile.dictionary,
                    "storage": {"backend": "core.sqlite_dos", "config": {"filepath": str(plan.folder)}},
                },
            )
            config.add_profile(adopted, overwrite=True)
        click.echo(f"Profile {profile.name!r} now uses core.sqlite_dos.")
