"""``provstore profile``: create profiles from a backend's Configuration, list, show, delete, set the default."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import click

from provstore.cli.output import echo_table
from provstore.exceptions import ConfigurationError, PluginError, PluginLoadError, ProvstoreError

if TYPE_CHECKING:
    from provstore.cli.config_options import FieldOption
    from provstore.config import Config, Profile
    from provstore.storage import StorageBackend

__all__ = ["create_profile", "initialise_storage", "mask_secrets", "profile"]

_SECRET_KEY = re.compile(r"password|passwd|secret|token", re.IGNORECASE)
_MASK = "****"
_CONFIG_PREFIX = "config_"
_SETUP_PREFIX = "setup_"
_REPOSITORY_PREFIX = "repository_config_"
_REPOSITORY_FLAG = "repository-"
_REPOSITORY_OPTION = "--repository-backend"


@click.group()
def profile() -> None:
    """Create, inspect and delete profiles."""


# ---------------------------------------------------------------------------------- setup
def create_profile(profile_obj: Profile, *, set_default: bool, setup_options: Any = None) -> Config:
    """Prepare and initialise the storage of a new profile, then save it in the configuration file.

    Runs under the configuration's edit lock. The storage is initialised before the profile is
    saved, so a failure leaves no profile pointing at a storage that does not work. The backend's
    :meth:`~provstore.storage.StorageBackend.setup_storage` (options: an instance of its ``SetupOptions``
    model, or None) first creates what the storage needs, e.g. a database role.

    :raises ConfigurationError: a profile of that name exists already.
    """
    from provstore.config import Config
    from provstore.plugins import resolve_storage_class

    with Config.edit() as config:
        if profile_obj.name in config.profile_names:
            raise ConfigurationError(f"profile {profile_obj.name!r} already exists; choose another name")
        storage_cls = resolve_storage_class(profile_obj)
        storage_cls.setup_storage(profile_obj, setup_options)
        _initialise_and_check(storage_cls, profile_obj)
        config.add_profile(profile_obj)
        if set_default:
            config.set_default_profile(profile_obj.name)
    return config


def _initialise_and_check(
    storage_cls: type[StorageBackend], profile_obj: Profile, *, failure: str | None = None
) -> bool:
    """Initialise the storage of ``profile_obj``, then open it once so that setup succeeds only for a working profile.

    Opening validates what initialise may have left inconsistent, e.g. a database that another profile
    initialised with a different repository. If opening fails, the storage is deleted again when this call
    created it (database and repository both new); data that existed before is never touched. Returns whether
    this call initialised the storage (False: it was initialised already). ``failure`` starts the error message
    (default: the profile was not created).

    :raises ConfigurationError: the storage does not work; nothing is saved.
    """
    from provstore.plugins import resolve_repository_class

    repository_existed = False
    if resolve_repository_class(profile_obj, storage_cls) is not None:
        repository_existed = storage_cls.repository_for(profile_obj).is_initialised
    created = storage_cls.initialise(profile_obj)
    try:
        storage_cls(profile_obj).close()
    except ProvstoreError as exc:
        undone = ""
        if created and not repository_existed and storage_cls.can_delete_storage:
            storage_cls.delete_storage(profile_obj)
            undone = "; the storage it had initialised was deleted again"
        failure = failure or f"profile {profile_obj.name!r} was not created"
        raise ConfigurationError(f"{failure}: its storage does not work ({exc}){undone}") from None
    return created


def initialise_storage(profile_obj: Profile) -> str:
    """Initialise the storage and repository of a configured profile that is not initialised yet (``storage init``).

    An initialised storage is left as it is. The new storage is opened once, as ``profile setup`` does, and
    deleted again if it does not work. Returns the line that says what was done.

    :raises ConfigurationError: the new storage does not work.
    :raises UnreachableStorage: the storage cannot be reached (a missing password says how to give one).
    """
    from provstore.exceptions import AuthenticationRequired, UnreachableStorage
    from provstore.plugins import resolve_storage_class

    storage_cls = resolve_storage_class(profile_obj)
    name, backend = profile_obj.name, profile_obj.storage_backend
    try:
        current = storage_cls.version_profile(profile_obj)
        if current is None:
            created = _initialise_and_check(
                storage_cls, profile_obj, failure=f"the storage of profile {name!r} was not initialised"
            )
            current = storage_cls.version_profile(profile_obj)
            if created:
                return f"Initialised the storage of profile {name!r} on {backend} (schema version {current})."
    except AuthenticationRequired as exc:
        where = f" or in the environment variable {exc.environment}" if exc.environment else ""
        raise UnreachableStorage(f"{exc}; give it as {exc.field!r} in the profile's configuration{where}") from None
    from provstore.cli.storage import version_advice

    message = f"The storage of profile {name!r} is initialised already (schema version {current}); nothing was changed."
    advice = version_advice(storage_cls, profile_obj, current)
    return f"{message} {advice}" if advice else message


class _SetupGroup(click.Group):
    """``profile setup BACKEND``: one subcommand per storage backend, with options from its Configuration."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """List the storage backends that can be set up (importable and ``cli_exposed``)."""
        from provstore.plugins import get_plugin_manager

        manager = get_plugin_manager()
        names = []
        for row in manager.list_backends("storage"):
            if row.status != "ok":
                continue
            try:
                if manager.get_storage_backend(row.name).cli_exposed:
                    names.append(row.name)
            except ProvstoreError:
                continue
        return names

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command:
        """Build the setup command of backend ``cmd_name``."""
        from provstore.plugins import get_plugin_manager

        storage_cls = get_plugin_manager().get_storage_backend(cmd_name)
        if not storage_cls.cli_exposed:
            raise ConfigurationError(f"backend {cmd_name!r} cannot be set up from the command line")
        description = next(
            row.description for row in get_plugin_manager().list_backends("storage") if row.name == cmd_name
        )
        return _SetupCommand(cmd_name, storage_cls, description)


def _option_value(args: list[str], flag: str) -> str | None:
    """Return the value given to option ``flag`` in the raw arguments (``--x V`` or ``--x=V``), or None."""
    for index, arg in enumerate(args):
        if arg == "--":
            break
        if arg == flag:
            return args[index + 1] if index + 1 < len(args) else None  # click reports the missing value
        if arg.startswith(flag + "="):
            return arg.partition("=")[2]
    return None


def _complete_repository_backends(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """Shell completion of ``--repository-backend``: the installed repository backends."""
    from provstore.plugins import get_plugin_manager

    try:
        rows = get_plugin_manager().list_backends("repository")
    except ProvstoreError:
        return []
    return [row.name for row in rows if row.status == "ok" and row.name.startswith(incomplete)]


class _SetupCommand(click.Command):
    """``profile setup BACKEND``: options from the storage's ``Configuration`` and ``SetupOptions`` and, for a
    storage that holds files, from the ``Configuration`` of the repository backend that ``--repository-backend``
    names (``--repository-FIELD``); without that option the storage's default repository is used."""

    def __init__(self, backend: str, storage_cls: type[StorageBackend], description: str) -> None:
        from provstore.cli.config_options import field_options

        self.backend = backend
        self.storage_cls = storage_cls
        self.config_options = field_options(
            storage_cls.Configuration, _CONFIG_PREFIX, required=storage_cls.default_repository_fields
        )
        setup_model = storage_cls.SetupOptions
        self.setup_options = field_options(setup_model, _SETUP_PREFIX) if setup_model is not None else []
        self.repository_backend: str | None = None
        self.repository_cls: Any = None
        self.repository_options: list[FieldOption] = []
        self.common: list[click.Parameter] = [
            click.Option(["--profile-name"], help="Name of the new profile."),
            click.Option(["--set-default/--no-set-default"], default=False, help="Make it the default profile."),
            click.Option(["--email"], help="Email of the default user of the new profile."),
        ]
        text = f"Create a profile on {backend} and initialise its storage.\n\n{backend}: {description}"
        default = storage_cls.default_repository_backend if storage_cls.repository_selectable else None
        if default is not None:
            self.common.append(
                click.Option(
                    [_REPOSITORY_OPTION],
                    metavar="NAME",
                    shell_complete=_complete_repository_backends,
                    help=f"Repository backend that holds the files (default: {default}, configured from the "
                    "storage's own options). Its settings become --repository-FIELD options: see them with "
                    f"'provstore profile setup {backend} {_REPOSITORY_OPTION} NAME --help'.",
                )
            )
            text += (
                f"\n\nThe files go to {default} unless {_REPOSITORY_OPTION} NAME chooses another installed "
                "repository backend ('provstore plugin list repository'); its settings are then given as "
                "--repository-FIELD options."
            )
        super().__init__(backend, callback=self._create, params=self._params(), help=text, short_help=description)

    # ---------------------------------------------------------------------------- options
    def _storage_options(self) -> list[FieldOption]:
        """Return the storage's own options; with another repository, without those of its default repository."""
        if self.repository_backend is None:
            return self.config_options
        return [i for i in self.config_options if i.field_name not in self.storage_cls.default_repository_fields]

    def _params(self) -> list[click.Parameter]:
        """Return every parameter of the command, refusing generated flags that clash with others.

        :raises PluginLoadError: two options would have the same flag.
        """
        generated = []
        for items in (self._storage_options(), self.setup_options, self.repository_options):
            generated += [item.option for item in items]  # the settings of one model, then their secret files
            generated += [item.file_option for item in items if item.file_option is not None]
        seen = {flag for option in self.common for flag in (*option.opts, *option.secondary_opts)} | {"--help", "-h"}
        clashes = set()
        for option in generated:
            for flag in (*option.opts, *option.secondary_opts):
                if flag in seen:
                    clashes.add(flag)
                seen.add(flag)
        if clashes:
            where = f"backend {self.backend!r}"
            if self.repository_backend is not None:
                where += f" with repository backend {self.repository_backend!r}"
            raise PluginLoadError(f"{where}: configuration field(s) clash with setup options: {sorted(clashes)}")
        return [*self.common, *generated]

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Add the options of the repository backend that ``--repository-backend`` names, then parse as usual.

        :raises PluginNotFound: no installed plugin provides that repository backend (with the closest name).
        :raises click.UsageError: a ``--repository-*`` option that no chosen backend takes.
        """
        from provstore.cli.config_options import field_options
        from provstore.plugins import get_plugin_manager

        default = self.storage_cls.default_repository_backend if self.storage_cls.repository_selectable else None
        name = _option_value(args, _REPOSITORY_OPTION) if default is not None else None
        if name is not None and name != self.repository_backend:
            try:
                self.repository_cls = get_plugin_manager().get_repository_backend(name)
            except ProvstoreError:
                if ctx.resilient_parsing:  # shell completion: complete what is known, print no error
                    return super().parse_args(ctx, args)
                raise
            self.repository_backend = name
            self.repository_options = field_options(
                self.repository_cls.Configuration, _REPOSITORY_PREFIX, flag_prefix=_REPOSITORY_FLAG
            )
            self.params = self._params()
        if ctx.resilient_parsing:
            return super().parse_args(ctx, args)
        known = {flag for param in self.params for flag in (*param.opts, *param.secondary_opts)}
        for arg in args:
            if arg == "--":
                break
            flag = arg.partition("=")[0]
            if not flag.startswith(("--repository-", "--no-repository-")) or flag in known:
                continue
            if default is None:
                why = (
                    "keeps no files"
                    if self.storage_cls.default_repository_backend is None
                    else "has a fixed repository"
                )
                raise click.UsageError(f"{self.backend} {why}, so it takes no repository options ({flag})", ctx)
            if self.repository_backend is None:
                raise click.UsageError(
                    f"option {flag} is a setting of a repository backend: choose the backend with "
                    f"{_REPOSITORY_OPTION} NAME (installed ones: 'provstore plugin list repository')",
                    ctx,
                )
            dropped = self.storage_cls.default_repository_fields
            if flag in {o for i in self.config_options if i.field_name in dropped for o in i.option.opts}:
                raise click.UsageError(
                    f"{flag} configures {self.backend}'s default repository ({default}); with "
                    f"{_REPOSITORY_OPTION} {self.repository_backend} give that backend's --repository-FIELD options",
                    ctx,
                )
            takes = [o for i in self.repository_options for p in i.options for o in p.opts] or ["no options"]
            raise click.UsageError(
                f"no such option {flag}: repository backend {self.repository_backend!r} takes {', '.join(takes)}", ctx
            )
        return super().parse_args(ctx, args)

    # --------------------------------------------------------------------------- creation
    def _create(self, profile_name: str | None, set_default: bool, email: str | None, **params: Any) -> None:
        """Validate the values, prepare and initialise the storage, save the profile (the command's callback)."""
        from provstore.cli.config_options import collect_values, stdin_is_tty
        from provstore.config import Config, Profile, config_to_dict, validate_backend_config, validate_profile_name
        from provstore.exceptions import AuthenticationRequired, UnreachableStorage

        params.pop("repository_backend", None)
        backend, storage_cls = self.backend, self.storage_cls
        config = Config.load()  # fails on a broken file before anything is created
        if profile_name is None:
            if not stdin_is_tty():
                raise click.UsageError("missing option --profile-name")
            profile_name = click.prompt("Profile name (--profile-name)")
        validate_profile_name(profile_name)
        if profile_name in config.profile_names:
            raise ConfigurationError(f"profile {profile_name!r} already exists; choose another name")
        storage_options = self._storage_options()
        required = storage_cls.default_repository_fields if self.repository_backend is None else ()
        values = collect_values(storage_options, params, _CONFIG_PREFIX, context=backend, required=required)
        setup_values = collect_values(self.setup_options, params, _SETUP_PREFIX, context=backend)
        repository: dict[str, Any] | None = None
        if self.repository_backend is not None:
            repository_values = collect_values(
                self.repository_options, params, _REPOSITORY_PREFIX, context=self.repository_backend
            )
            repository_config = config_to_dict(validate_backend_config(self.repository_cls, repository_values))
            repository = {"backend": self.repository_backend, "config": repository_config}
        prompted: set[str] = set()
        while True:
            storage_config = config_to_dict(validate_backend_config(storage_cls, values))
            attributes: dict[str, Any] = {"storage": {"backend": backend, "config": storage_config}}
            if repository is not None:
                attributes["repository"] = repository
            if email:
                attributes["default_user_email"] = email
            options = None
            if storage_cls.SetupOptions is not None:
                options = storage_cls.SetupOptions(**setup_values)
            try:
                config = create_profile(
                    Profile(profile_name, attributes), set_default=set_default, setup_options=options
                )
                break
            except AuthenticationRequired as exc:
                # the server wants a secret that was not given: ask for it once at a terminal, else say how to give it
                found = [
                    (item, given)
                    for items, given in ((storage_options, values), (self.setup_options, setup_values))
                    for item in items
                    if item.field_name == exc.field and item.secret
                ]
                if not found or exc.field in found[0][1] or exc.field in prompted:
                    raise
                item, given = found[0]
                flag = item.option.opts[0]
                if not stdin_is_tty():
                    ways = [f"{item.file_option.opts[0]} PATH"] if item.file_option is not None else []
                    ways += [f"the environment variable {exc.environment}"] if exc.environment else []
                    listed = f"{', '.join(ways)} or {flag}" if ways else flag
                    raise UnreachableStorage(f"{exc}; give the password with {listed}") from None
                label = flag[2:].replace("-", " ").capitalize()
                given[exc.field] = click.prompt(f"{label} (the server asks for {flag})", hide_input=True)
                prompted.add(exc.field)
        default = " (default)" if config.default_profile_name == profile_name else ""
        where = f" with files in {self.repository_backend}" if self.repository_backend is not None else ""
        click.echo(f"Created profile {profile_name!r}{default} on {backend}{where}.")


profile.add_command(
    _SetupGroup(
        "setup",
        help="Create a profile on storage backend BACKEND (see 'provstore profile setup BACKEND --help').",
        subcommand_metavar="BACKEND [OPTIONS]",
    )
)


# ---------------------------------------------------------------------------- inspection
@profile.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: name, storage backend and default flag of each.")
def list_profiles(as_json: bool) -> None:
    """List the profiles; the default one is marked with *."""
    from provstore.config import Config

    config = Config.load()
    if as_json:
        from provstore.cli.output import echo_json

        echo_json(
            [
                {
                    "name": name,
                    "storage_backend": config.get_profile(name).storage_backend,
                    "default": name == config.default_profile_name,
                }
                for name in config.profile_names
            ]
        )
        return
    if not config.profile_names:
        click.echo("No profiles; create one with 'provstore presto' or 'provstore profile setup BACKEND'.")
        return
    rows = []
    for name in config.profile_names:
        marker = "*" if name == config.default_profile_name else ""
        rows.append([marker, name, config.get_profile(name).storage_backend])
    echo_table(["", "name", "storage"], rows)


def mask_secrets(value: Any, secret_fields: frozenset[str] = frozenset()) -> Any:
    """Return a copy of ``value`` with every secret replaced by ``****``.

    Secrets are the keys named in ``secret_fields`` and any key that looks like one (password, token, ...).
    """
    if isinstance(value, dict):
        return {
            key: _MASK if (key in secret_fields or _SECRET_KEY.search(str(key))) and item else mask_secrets(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [mask_secrets(item) for item in value]
    return value


def _secret_fields(backend_cls: type) -> frozenset[str]:
    from provstore.cli.config_options import describe_field

    return frozenset(name for name, f in backend_cls.Configuration.model_fields.items() if describe_field(f)[1])


@profile.command("show")
@click.argument("name", required=False)
def show_profile(name: str | None) -> None:
    """Show profile NAME (default: the default profile) as JSON, with passwords masked."""
    from provstore.config import Config
    from provstore.plugins import get_plugin_manager

    config = Config.load()
    selected = config.get_profile(name)
    data = selected.dictionary
    manager = get_plugin_manager()
    for section, group in (("storage", "storage"), ("repository", "repository")):
        if section not in data:
            continue
        try:
            secrets = _secret_fields(manager.get_backend(group, data[section]["backend"]))
        except ProvstoreError:
            secrets = frozenset()  # backend not importable: the key-name rule still masks passwords
        data[section]["config"] = mask_secrets(data[section].get("config", {}), secrets)
    data = mask_secrets(data)
    click.echo(
        json.dumps({"name": selected.name, "default": selected.name == config.default_profile_name, **data}, indent=2)
    )


# ------------------------------------------------------------------------------ changes
@profile.command("set-default")
@click.argument("name")
def set_default(name: str) -> None:
    """Make profile NAME the default profile."""
    from provstore.config import Config

    with Config.edit() as config:
        config.set_default_profile(name)
    click.echo(f"Profile {name!r} is now the default.")


@profile.command("set-user")
@click.argument("name")
@click.argument("email")
def set_user(name: str, email: str) -> None:
    """Make EMAIL the default user of profile NAME: the owner of new entities created without a user.

    The user is created in the storage on first use; this is the same setting as 'profile setup --email'.
    """
    from provstore.config import Config, Profile

    with Config.edit() as config:
        selected = config.get_profile(name)
        config.add_profile(Profile(name, {**selected.dictionary, "default_user_email": email}), overwrite=True)
    click.echo(f"Profile {name!r}: default user is now {email!r}.")


@profile.command("delete")
@click.argument("name")
@click.option("--force", is_flag=True, help="Do not ask for confirmation.")
@click.option("--keep-data", is_flag=True, help="Remove only the profile; leave its storage's data in place.")
def delete_profile(name: str, force: bool, keep_data: bool) -> None:
    """Delete profile NAME and, unless --keep-data, its storage's data.

    A backend that cannot delete its data (its class declares can_delete_storage False) leaves it in place,
    and the command says so.
    """
    from provstore.config import Config

    selected = Config.load().get_profile(name)
    what = f"profile {name!r}" + ("" if keep_data else " and ALL its data")
    if not force:
        from provstore.cli.config_options import stdin_is_tty

        if not stdin_is_tty():
            raise click.UsageError(f"refusing to delete {what} without confirmation; use --force")
        click.confirm(f"Delete {what}?", abort=True)
    storage_cls, repository_name, repository = _check_deletable(selected, resolve=not keep_data)
    kept = f"its storage ({selected.storage_backend})"
    if repository_name:
        kept += f" and repository ({repository_name})"
    removed = ""
    if not keep_data:
        if storage_cls.can_delete_storage:
            storage_cls.delete_storage(selected, repository=repository)
            removed, kept = kept, ""
        else:
            click.echo(f"Backend {selected.storage_backend!r} cannot delete its data; it was left in place.")
    with Config.edit() as config:
        config.remove_profile(name)
    summary = f"Deleted profile {name!r}"
    if removed:
        summary += f"; removed {removed}"
    if kept:
        summary += f"; kept {kept}"
    click.echo(summary + ".")


def _check_deletable(selected: Profile, *, resolve: bool) -> tuple[Any, str | None, Any]:
    """Resolve what deleting the data of ``selected`` needs, before anything is deleted.

    Returns the storage class, the repository backend's name (None: the storage holds no files) and the
    repository to pass to ``delete_storage``. With ``resolve`` False (``--keep-data``) nothing is resolved
    and only the names the profile itself gives are returned.

    :raises PluginError: a backend is not installed or cannot be built; the message names ``--keep-data``.
    """
    from provstore.plugins import resolve_repository_class, resolve_storage_class

    if not resolve:
        return None, selected.repository_backend, None
    try:
        storage_cls = resolve_storage_class(selected)
        repository_cls = resolve_repository_class(selected, storage_cls)
        repository = None
        if repository_cls is not None and storage_cls.can_delete_storage:
            repository = storage_cls.repository_for(selected)
    except ProvstoreError as exc:
        raise PluginError(
            f"cannot delete the data of profile {selected.name!r}, nothing was deleted: {exc}; "
            f"use --keep-data to delete only the profile"
        ) from None
    name = (selected.repository_backend or storage_cls.default_repository_backend) if repository_cls else None
    return storage_cls, name, repository
