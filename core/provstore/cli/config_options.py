"""Build click options from a pydantic model's fields, and collect (or prompt for) their values.

``profile setup`` uses this on a backend's ``Configuration`` model, so a backend gets its command
line options by declaring its settings once.
"""

from __future__ import annotations

import enum
import json
import sys
import types
import typing
from dataclasses import dataclass
from typing import Any

import click
import pydantic
from pydantic.fields import FieldInfo

__all__ = ["FieldOption", "collect_values", "describe_field", "field_default", "field_options", "stdin_is_tty"]


@dataclass(frozen=True)
class FieldOption:
    """A model field and the click option generated for it."""

    field_name: str
    field: FieldInfo
    option: click.Option
    secret: bool
    json_value: bool


def stdin_is_tty() -> bool:
    """Return whether standard input is a terminal, i.e. whether the command may prompt the user."""
    return sys.stdin.isatty()


def _unwrap_optional(annotation: Any) -> Any:
    """Return ``X`` for ``X | None`` / ``Optional[X]``, else the annotation itself."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        arguments = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(arguments) == 1:
            return arguments[0]
    return annotation


def describe_field(field: FieldInfo) -> tuple[str, bool]:
    """Return a short type name of a field (``int``, ``secret``, ``JSON``, ``a|b``) and whether it is a secret."""
    annotation = _unwrap_optional(field.annotation)
    if isinstance(annotation, type) and issubclass(annotation, pydantic.SecretStr | pydantic.SecretBytes):
        return "secret", True
    if typing.get_origin(annotation) is typing.Literal:
        return "|".join(str(a) for a in typing.get_args(annotation)), False
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "|".join(str(member.value) for member in annotation), False
    if isinstance(annotation, type) and annotation in (bool, int, float, str):
        return annotation.__name__, False
    if isinstance(annotation, type) and annotation.__name__.endswith("Path"):
        return "path", False
    return "JSON", False


def field_default(field: FieldInfo) -> Any:
    """Return the JSON form of an optional field's default (enums as values, paths as strings)."""
    import pydantic

    return pydantic.TypeAdapter(Any).dump_python(field.get_default(call_default_factory=True), mode="json")


def _click_type(field: FieldInfo) -> click.ParamType:
    annotation = _unwrap_optional(field.annotation)
    if typing.get_origin(annotation) is typing.Literal:
        return click.Choice([str(a) for a in typing.get_args(annotation)])
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return click.Choice([str(member.value) for member in annotation])
    return {int: click.INT, float: click.FLOAT}.get(annotation, click.STRING)


def field_options(model: type[pydantic.BaseModel], prefix: str) -> list[FieldOption]:
    """Return one click option per field of ``model``: ``--database-port`` for field ``database_port``.

    Options have no click default (so that only values the user gives are collected); the
    field's default is shown in the help text instead. ``prefix`` namespaces the python parameter names.
    """
    result = []
    for name, field in model.model_fields.items():
        type_name, secret = describe_field(field)
        flag = "--" + name.replace("_", "-")
        help_text = field.description or ""
        if field.is_required():
            help_text += "  [required]"
        else:
            default = field_default(field)
            if default is not None:
                help_text += f"  [default: {'****' if secret else json.dumps(default)}]"
        if type_name == "bool":
            option = click.Option([f"{flag}/--no-{flag[2:]}", f"{prefix}{name}"], default=None, help=help_text)
        else:
            metavar = "JSON" if type_name == "JSON" else None
            option = click.Option([flag, f"{prefix}{name}"], type=_click_type(field), metavar=metavar, help=help_text)
        result.append(FieldOption(name, field, option, secret, type_name == "JSON"))
    return result


def collect_values(options: list[FieldOption], params: dict[str, Any], prefix: str, *, context: str) -> dict[str, Any]:
    """Return ``{field: value}`` for the options given on the command line; prompt for missing required ones.

    Prompting happens only when standard input is a terminal; otherwise a missing required value
    is a usage error naming the option. ``context`` says who needs the value, for that message.
    """
    values: dict[str, Any] = {}
    interactive = stdin_is_tty()
    if not interactive:  # report every missing option at once, not one per run
        missing = [
            item.option.opts[0]
            for item in options
            if params.get(f"{prefix}{item.field_name}") is None and item.field.is_required()
        ]
        if missing:
            noun = "option" if len(missing) == 1 else "options"
            raise click.UsageError(f"missing {noun} {', '.join(missing)} (required by {context})")
    for item in options:
        value = params.get(f"{prefix}{item.field_name}")
        if value is None and item.field.is_required():
            flag = item.option.opts[0]
            label = item.field.description or item.field_name
            value = click.prompt(f"{label} ({flag})", hide_input=item.secret, type=item.option.type)
        if value is None:
            continue
        if item.json_value and isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise click.BadParameter(f"not valid JSON ({exc.msg})", param_hint=item.option.opts[0]) from None
        values[item.field_name] = value
    return values
