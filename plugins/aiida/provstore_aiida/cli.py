"""``provstore storage adopt``, added to the ``storage`` group by this plugin (light: the work is imported when run)."""

from __future__ import annotations

from pathlib import Path

import click

ADOPTABLE_BACKENDS = ("core.aiida_sqlite_dos", "core.sqlite_dos", "core.aiida_psql_dos")


@click.command()
@click.option("--dry-run", is_flag=True, help="Only list what would change; write nothing.")
@click.pass_obj
def adopt(state, dry_run: bool) -> None:
    """Turn the profile's aiida-core 2.9 store into a provstore store in place (sqlite_dos or psql_dos).

    sqlite_dos: the container stays; the database is rebuilt with provstore's schema beside the old one and
    moved into place only once verified (aiida-core's is kept as database.sqlite.aiida); the profile then
    uses core.sqlite_dos. psql_dos: in one transaction, aiida-core's tables move to the schema aiida_core and
    provstore's are built and filled in public; the container stays in <repository_uri>/container, which the
    profile (then core.psql_dos) points at. Refused while another process uses the store; a failure changes
    nothing.
    """
    from provstore.config import Config, Profile
    from provstore.exceptions import ValidationError

    profile = state.load_profile()
    if profile.storage_backend not in ADOPTABLE_BACKENDS:
        raise ValidationError(
            f"profile {profile.name!r} uses {profile.storage_backend}: adopt takes a profile of "
            f"{', '.join(ADOPTABLE_BACKENDS)} pointing at an aiida-core 2.9 store"
        )
    if profile.storage_backend == "core.aiida_psql_dos":
        from provstore_aiida.adopt_psql import adopt_psql_dos, adopted_storage_config

        plan = adopt_psql_dos(profile.storage_config, profile.name, dry_run=dry_run)
        where, backend = f"database {plan.database}", "core.psql_dos"
        storage = {"backend": backend, "config": adopted_storage_config(profile.storage_config)}
    else:
        from provstore_aiida.adopt import adopt_sqlite_dos

        plan = adopt_sqlite_dos(Path(profile.storage_config["filepath"]), dry_run=dry_run)
        where, backend = str(plan.folder), "core.sqlite_dos"
        storage = {"backend": backend, "config": {"filepath": str(plan.folder)}}
    click.echo(f"{'Would adopt' if dry_run else 'Adopted'} {where} for profile {profile.name!r}:")
    for change in plan.changes:
        click.echo(f"  {change}")
    if profile.storage_backend != backend:
        if dry_run:
            click.echo(f"  profile {profile.name!r}: {profile.storage_backend} -> {backend}")
            return
        with Config.edit() as config:
            config.add_profile(Profile(profile.name, {**profile.dictionary, "storage": storage}), overwrite=True)
        click.echo(f"Profile {profile.name!r} now uses {backend}.")
