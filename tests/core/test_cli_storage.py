"""``provstore storage ...`` and ``provstore plugin list NAME`` on the test plugin, plus error reporting."""

from __future__ import annotations

import json

import click
import pydantic
import pytest
from provstore import hookimpl
from provstore.exceptions import CorruptStorage


@pytest.fixture
def two_profiles(run, fake_plugin, tmp_path):
    for name in ("main", "other"):
        result = run("profile", "setup", "testfake.store", "--profile-name", name, "--folder", str(tmp_path / name))
        assert result.exit_code == 0, result.output
    return tmp_path


def test_info_of_default_and_selected_profile(run, two_profiles):
    result = run("storage", "info")
    assert result.exit_code == 0, result.output
    assert result.output == "profile: main (testfake.store)\nentities:\n  nodes: 0\n"
    detailed = run("-p", "other", "storage", "info", "--detailed", "--json")
    assert json.loads(detailed.output) == {
        "profile": "other",
        "storage_backend": "testfake.store",
        "entities": {"nodes": 0},
        "folder": str(two_profiles / "other"),
    }


def test_version_and_migrate(run, two_profiles):
    (two_profiles / "main" / "state.json").write_text('{"version": "1"}')
    result = run("storage", "version")
    assert result.output.splitlines() == [
        "code schema version:    2",
        "storage schema version: 1",
        "The storage needs migrating: run 'provstore -p main storage migrate'.",
    ]
    assert run("storage", "migrate").output == "Migrated storage of profile 'main' from schema version 1 to 2.\n"
    assert run("storage", "migrate").output == "Storage of profile 'main' is already at schema version 2.\n"
    assert run("storage", "version").output.splitlines()[1] == "storage schema version: 2"


def test_maintain_options_reach_the_backend(run, two_profiles):
    result = run("-p", "other", "storage", "maintain", "--full", "--dry-run")
    assert result.exit_code == 0
    assert result.output.splitlines() == ["Dry run of full maintenance of 'other':", "  full: yes", "  dry_run: yes"]


def test_storage_error_is_one_line(run, two_profiles):
    (two_profiles / "main" / "state.json").unlink()
    result = run("storage", "info")
    assert (result.exit_code, result.stderr) == (1, f"Error: no test storage at {two_profiles / 'main'}\n")


def test_plugin_list_detail_shows_configuration_fields(run, fake_plugin):
    result = run("plugin", "list", "testfake.store")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "status:       ok" in lines
    assert "repository:   -" in lines
    assert "can delete:   True" in lines
    assert "setup:        admin_password" in lines
    assert "  folder (path) (required): Folder of the storage." in lines
    assert "  port (int) [default: 5432]: A port, to test integer options." in lines
    assert "  password (secret) [default: null]: A secret, to test masking." in lines
    assert '  mode (fast|safe) [default: "safe"]: A choice.' in lines
    detail = json.loads(run("plugin", "list", "storage", "testfake.store", "--json").output)
    assert detail["distribution"] is None and detail["cli_exposed"] is True
    assert (detail["can_delete_storage"], detail["setup_options"]) == (True, ["admin_password"])
    assert [field["name"] for field in detail["configuration"]] == [
        "folder",
        "port",
        "password",
        "mode",
        "engine_kwargs",
    ]


def test_plugin_list_group_and_unknown_name(run, fake_plugin):
    rows = json.loads(run("plugin", "list", "storage", "--json").output)
    assert {row["group"] for row in rows} == {"storage"}
    assert {"testfake.store", "testfake.hidden"} <= {row["name"] for row in rows}
    result = run("plugin", "list", "testfake.nothing")
    assert result.exit_code == 1 and result.stderr.startswith("Error: no backend named 'testfake.nothing'")
    result = run("plugin", "list", "storages", "x")
    assert result.exit_code == 2


def test_plugin_commands_are_added(run, fake_plugin):
    assert "testfake-hello" in run("--help").output
    assert run("testfake-hello").output == "hello from testfake\n"


class Raising:
    """A plugin whose commands raise the errors the CLI must turn into one line."""

    @hookimpl
    def provstore_register_commands(self, cli):
        class Config(pydantic.BaseModel):
            port: int

        @cli.command("raise-provstore")
        def raise_provstore():
            raise CorruptStorage("repository uuid mismatch\nsecond line is dropped")

        @cli.command("raise-pydantic")
        def raise_pydantic():
            Config(port="secret-value")

        @cli.command("raise-oserror")
        def raise_oserror():
            raise OSError(28, "No space left on device")

        @cli.command("raise-interrupt")
        def raise_interrupt():
            raise KeyboardInterrupt

        @cli.command("raise-bug")
        def raise_bug():
            raise ZeroDivisionError("a real bug")


@pytest.mark.parametrize(
    ("command", "exit_code", "stderr"),
    [
        ("raise-provstore", 1, "Error: repository uuid mismatch\n"),
        ("raise-pydantic", 1, "Error: invalid value: field 'port': Input should be a valid integer, unable to parse "
         "string as an integer\n"),
        ("raise-interrupt", 130, "Error: interrupted\n"),
        ("raise-oserror", 1, "Error: [Errno 28] No space left on device\n"),
    ],
)  # fmt: skip
def test_user_errors_are_one_line(run, fake_plugin, command, exit_code, stderr):
    fake_plugin.register(Raising(), "raising")
    result = run(command)
    assert (result.exit_code, result.stderr) == (exit_code, stderr)


def test_bugs_keep_their_traceback(run, fake_plugin):
    fake_plugin.register(Raising(), "raising")
    with pytest.raises(ZeroDivisionError):
        run("raise-bug")


def test_broken_plugin_command_hook_warns_and_cli_still_works(run, fake_plugin):
    class Broken:
        @hookimpl
        def provstore_register_commands(self, cli):
            cli.add_command(click.Command("plugin"))  # may not replace a built-in

    fake_plugin.register(Broken(), "broken")
    result = run("plugin", "list", "--json")
    assert result.exit_code == 0
    assert "Warning: plugin 'broken' may not replace the command 'plugin'" in result.stderr
