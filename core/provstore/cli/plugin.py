"""``provstore plugin list``: the installed backends, who provides them and whether they can be used."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import click

from provstore.cli.output import echo_table
from provstore.exceptions import PluginNotFound, ProvstoreError

__all__ = ["plugin"]

_GROUPS = ("storage", "repository")


@click.group()
def plugin() -> None:
    """Inspect the installed plugins."""


@plugin.command("list")
@click.argument("group", required=False, metavar="[GROUP]")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_plugins(group: str | None, name: str | None, as_json: bool) -> None:
    """List backends: all, those of GROUP (storage or repository), or the detail of backend NAME.

    A single argument that is not a group is taken as a NAME. The list never imports a backend;
    the detail of NAME imports that backend to describe its configuration fields.
    """
    from provstore.plugins import get_plugin_manager

    if group is not None and group not in _GROUPS:
        if name is not None:
            raise click.BadParameter(f"{group!r} is not one of: {', '.join(_GROUPS)}", param_hint="GROUP")
        group, name = None, group
    manager = get_plugin_manager()
    rows = manager.list_backends(group)
    if name is None:
        if as_json:
            click.echo(json.dumps([dataclasses.asdict(row) for row in rows], indent=2))
        else:
            echo_table(
                ["group", "name", "distribution", "version", "status", "description"],
                [[r.group, r.name, r.distribution or "-", r.version or "-", r.status, r.description] for r in rows],
                keep=(0, 1),
            )
        return
    matches = [row for row in rows if row.name == name]
    if not matches:
        raise PluginNotFound(_not_found(name, group, rows, manager.list_backends(None)))
    details = [_detail(row) for row in matches]
    if as_json:
        click.echo(json.dumps(details if len(details) > 1 else details[0], indent=2))
    else:
        for detail in details:
            _echo_detail(detail)
    broken = [detail for detail in details if detail["status"] != "ok"]
    if broken:  # the full error was shown above; a script sees the failure in the exit status
        raise click.exceptions.Exit(1)


def _not_found(name: str, group: str | None, rows: list[Any], every_row: list[Any]) -> str:
    """Return the one-line message for a NAME not in the listed rows, pointing at its group if it has another."""
    elsewhere = sorted({row.group for row in every_row if row.name == name})
    if group is not None and elsewhere:
        return (
            f"{name!r} is not a {group} backend but a {' and '.join(elsewhere)} backend: "
            f"provstore plugin list {elsewhere[0]} {name}"
        )
    kind = f"{group} backend" if group is not None else "backend"
    installed = ", ".join(sorted({row.name for row in rows})) or "none"
    return f"no {kind} named {name!r} is installed; installed: {installed}"


def _detail(row: Any) -> dict[str, Any]:
    """Return the row as a dict plus the backend's configuration fields (importing the backend).

    A backend that cannot be used gets ``error``: the whole message that using it raises (the status is its
    short form, e.g. ``missing dependency: pip install X``), so the detail says what went wrong and where.
    """
    detail = dataclasses.asdict(row)
    if row.group not in _GROUPS:  # a plugin that failed to load: its status is the whole error
        if row.status != "ok":
            detail["error"] = row.status.removeprefix("error: ")
        return detail
    from provstore.plugins import get_plugin_manager

    try:
        cls = get_plugin_manager().get_backend(row.group, row.name)
    except ProvstoreError as exc:
        if row.status == "ok":
            detail["status"] = f"error: {exc}"
        detail["error"] = str(exc)
        return detail
    from provstore.cli.config_options import describe_field, field_default

    fields = []
    for field_name, field in cls.Configuration.model_fields.items():
        type_name, secret = describe_field(field)
        entry: dict[str, Any] = {"name": field_name, "type": type_name, "required": field.is_required()}
        if not field.is_required():
            default = field_default(field)
            entry["default"] = "****" if secret and default is not None else default
        entry["description"] = field.description or ""
        fields.append(entry)
    detail["configuration"] = fields
    if row.group == "storage":
        detail["cli_exposed"] = bool(cls.cli_exposed)
        detail["default_repository_backend"] = cls.default_repository_backend
        detail["can_delete_storage"] = bool(cls.can_delete_storage)
        detail["setup_options"] = sorted(cls.SetupOptions.model_fields) if cls.SetupOptions is not None else []
    return detail


def _echo_detail(detail: dict[str, Any]) -> None:
    labels = {
        "default_repository_backend": "repository",
        "cli_exposed": "cli exposed",
        "can_delete_storage": "can delete",
        "setup_options": "setup",
    }
    for key in ("name", "group", "status", "error", "description", "target", "distribution", "version", *labels):
        if key in detail:
            value = detail[key]
            if isinstance(value, list):
                value = ", ".join(value)
            value = "-" if value is None or value == "" else value
            click.echo(f"{labels.get(key, key) + ':':<14}{value}")
    if "configuration" in detail:
        click.echo("configuration:")
        if not detail["configuration"]:
            click.echo("  (no fields)")
        for field in detail["configuration"]:
            default = " (required)" if field["required"] else f" [default: {json.dumps(field['default'])}]"
            click.echo(f"  {field['name']} ({field['type']}){default}: {field['description']}")
