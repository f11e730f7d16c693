"""``provstore presto``: a working default profile on the embedded default backend in one step."""

from __future__ import annotations

import click

from provstore.exceptions import ConfigurationError, PluginNotFound

__all__ = ["DEFAULT_EMAIL", "DEFAULT_PROFILE_NAME", "PRESTO_BACKEND", "PRESTO_DISTRIBUTION", "presto"]

PRESTO_BACKEND = "core.sqlite_dos"
PRESTO_DISTRIBUTION = "provstore[sqlite]"
"""What to install for :data:`PRESTO_BACKEND` when only the core is installed."""
DEFAULT_PROFILE_NAME = "presto"
DEFAULT_EMAIL = "presto@localhost"


@click.command()
@click.option("--profile-name", default=DEFAULT_PROFILE_NAME, show_default=True, help="Name of the new profile.")
@click.option("--email", default=DEFAULT_EMAIL, show_default=True, help="Email of the default user.")
@click.option(
    "--if-missing",
    is_flag=True,
    help="Succeed without changes when the profile already exists (for scripts that may run twice).",
)
def presto(profile_name: str, email: str, if_missing: bool) -> None:
    """Create a default profile on the embedded SQLite backend, stored under the configuration directory."""
    from provstore.cli.profile import create_profile
    from provstore.config import (
        Config,
        Profile,
        config_to_dict,
        get_config_dir,
        validate_backend_config,
        validate_profile_name,
    )
    from provstore.plugins import get_plugin_manager

    validate_profile_name(profile_name)
    try:
        storage_cls = get_plugin_manager().get_storage_backend(PRESTO_BACKEND)
    except PluginNotFound:
        raise PluginNotFound(
            f"presto needs the embedded backend {PRESTO_BACKEND}, which is not installed: "
            f"pip install '{PRESTO_DISTRIBUTION}'"
        ) from None
    config = Config.load()
    if profile_name in config.profile_names:
        if if_missing:
            click.echo(f"Profile {profile_name!r} exists already; using it.")
            return
        raise ConfigurationError(f"profile {profile_name!r} already exists; choose another --profile-name")
    storage_dir = get_config_dir() / "storage" / profile_name
    if storage_dir.exists():
        raise ConfigurationError(f"storage folder {storage_dir} already exists; remove it or choose another name")
    attributes = {"storage": {"backend": PRESTO_BACKEND, "config": {"filepath": str(storage_dir)}}}
    new_profile = Profile(profile_name, {**attributes, "default_user_email": email})
    new_profile.storage_config.update(config_to_dict(validate_backend_config(storage_cls, new_profile.storage_config)))
    create_profile(new_profile, set_default=True)
    click.echo(f"Created default profile {profile_name!r} on {PRESTO_BACKEND} in {storage_dir}.")
