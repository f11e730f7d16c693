"""Options generated from a pydantic model: flags, numbers, choices, JSON and secrets."""

from __future__ import annotations

import enum
from pathlib import Path

import click
import pydantic
from click.testing import CliRunner
from provstore.cli.config_options import collect_values, field_options


class Kind(enum.Enum):
    FAST = "fast"
    SAFE = "safe"


class Model(pydantic.BaseModel):
    folder: Path = Path("/data")
    flag: bool = True
    ratio: float | None = None
    kind: Kind = Kind.SAFE
    paths: list[str] = pydantic.Field(default_factory=list, description="Paths.")
    token: pydantic.SecretStr = pydantic.SecretStr("hidden-default")


OPTIONS = field_options(Model, "m_")


@click.command(params=[item.option for item in OPTIONS])
def command(**params):
    click.echo(repr(collect_values(OPTIONS, params, "m_", context="test")))


def invoke(*args: str) -> click.testing.Result:
    return CliRunner().invoke(command, list(args))


def test_only_given_values_are_collected():
    assert invoke().output == "{}\n"
    assert invoke("--no-flag").output == "{'flag': False}\n"
    result = invoke("--flag", "--ratio", "0.5", "--kind", "fast", "--paths", '["a", "b"]', "--folder", "/x")
    assert result.output == "{'folder': '/x', 'flag': True, 'ratio': 0.5, 'kind': 'fast', 'paths': ['a', 'b']}\n"


def test_help_shows_types_and_json_defaults_but_no_secret():
    text = " ".join(invoke("--help").output.split())
    assert '--folder TEXT [default: "/data"]' in text
    assert "--flag / --no-flag [default: true]" in text
    assert '--kind [fast|safe] [default: "safe"]' in text
    assert "--paths JSON Paths. [default: []]" in text
    assert "--token TEXT [default: ****]" in text
    assert "hidden-default" not in text


def test_bad_values_are_usage_errors():
    assert invoke("--ratio", "x").exit_code == 2
    assert invoke("--kind", "slow").exit_code == 2
    result = invoke("--paths", "[oops")
    assert result.exit_code == 2 and "not valid JSON" in result.output
