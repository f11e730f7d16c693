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
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pydantic
from pydantic.fields import FieldInfo

__all__ = [
    "FILE_SUFFIX",
    "FieldOption",
    "collect_values",
    "describe_field",
    "field_default",
    "field_options",
    "read_secret_file",
    "stdin_is_tty",
]

FILE_SUFFIX = "__file"
"""Ending of the python parameter name of a secret's ``--FIELD-file`` option."""


@dataclass(frozen=True)
class FieldOption:
    """A model field and the click option generated for it."""

    field_name: str
    field: FieldInfo
    option: click.Option
    secret: bool
    json_value: bool
    file_option: click.Option | None = None
    """For a secret: ``--FIELD-file PATH``, which reads the value from a file (kept out of shell history and ps)."""

    @property
    def options(self) -> list[click.Option]:
        """Return the field's options: the value itself and, for a secret, the file to read it from."""
        return [self.option] if self.file_option is None else [self.option, self.file_option]


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


def field_options(
    model: type[pydantic.BaseModel], prefix: str, *, flag_prefix: str = "", required: Collection[str] = ()
) -> list[FieldOption]:
    """Return one click option per field of ``model``: ``--database-port`` for field ``database_port``.

    Options have no click default (so that only values the user gives are collected); the
    field's default is shown in the help text instead. ``prefix`` namespaces the python parameter names,
    ``flag_prefix`` the flags (``repository-`` gives ``--repository-bucket``); the fields named in ``required``
    are marked required although the model gives them a default. A secret field also gets ``--FIELD-file``.
    """
    result = []
    for name, field in model.model_fields.items():
        type_name, secret = describe_field(field)
        flag = "--" + flag_prefix + name.replace("_", "-")
        help_text = field.description or ""
        if field.is_required() or name in required:
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
        file_option = None
        if secret:
            file_option = click.Option(
                [f"{flag}-file", f"{prefix}{name}{FILE_SUFFIX}"],
                metavar="PATH",
                help=f"Read the value of {flag} from file PATH (one trailing newline is dropped), so that it stays "
                "out of the shell history and the process list.",
            )
        result.append(FieldOption(name, field, option, secret, type_name == "JSON", file_option))
    return result


def read_secret_file(path: str, flag: str) -> str:
    """Return the content of the secret file ``path`` given with option ``flag``, without one trailing newline.

    :raises ConfigurationError: the file cannot be read, is not UTF-8 text, or is empty (the content is never shown).
    """
    from provstore.exceptions import ConfigurationError

    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read {flag} {path}: {exc.strerror or type(exc).__name__}") from None
    except UnicodeDecodeError:
        raise ConfigurationError(f"cannot read {flag} {path}: not UTF-8 text") from None
    for ending in ("\r\n", "\n"):
        if text.endswith(ending):
            text = text[: -len(ending)]
            break
    if not text:
        raise ConfigurationError(f"{flag} {path} is empty")
    return text


def collect_values(
    options: list[FieldOption],
    params: dict[str, Any],
    prefix: str,
    *,
    context: str,
    required: Collection[str] = (),
) -> dict[str, Any]:
    """Return ``{field: value}`` for the options given on the command line; prompt for missing required ones.

    Prompting happens only when standard input is a terminal; otherwise a missing required value
    is a usage error naming the option. ``context`` says who needs the value, for that message; the fields
    named in ``required`` count as required too. A secret may come from its ``--FIELD-file`` instead.
    """

    def given(item: FieldOption) -> Any:
        value = params.get(f"{prefix}{item.field_name}")
        path = params.get(f"{prefix}{item.field_name}{FILE_SUFFIX}") if item.file_option is not None else None
        if path is None:
            return value
        assert item.file_option is not None
        if value is not None:
            raise click.UsageError(f"give {item.option.opts[0]} or {item.file_option.opts[0]}, not both")
        return read_secret_file(path, item.file_option.opts[0])

    def is_required(item: FieldOption) -> bool:
        return item.field.is_required() or item.field_name in required

    values: dict[str, Any] = {}
    interactive = stdin_is_tty()
    if not interactive:  # report every missing option at once, not one per run
        missing = [
            item.option.opts[0]
            for item in options
            if is_required(item)
            and params.get(f"{prefix}{item.field_name}") is None
            and params.get(f"{prefix}{item.field_name}{FILE_SUFFIX}") is None
        ]
        if missing:
            noun = "option" if len(missing) == 1 else "options"
            raise click.UsageError(f"missing {noun} {', '.join(missing)} (required by {context})")
    for item in options:
        value = given(item)
        if value is None and is_required(item):
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
