"""``provstore profile ...`` on the test plugin's backend: generated setup options, prompts, masking, deletion."""

from __future__ import annotations

import json
import stat

import pytest
from provstore.cli import config_options
from provstore.config import CONFIG_FILENAME, Config, Profile


@pytest.fixture
def interactive(monkeypatch):
    """Pretend standard input is a terminal, so commands may prompt."""
    monkeypatch.setattr(config_options, "stdin_is_tty", lambda: True)


def setup_fake(run, name: str, folder, *extra: str):
    return run("profile", "setup", "testfake.store", "--profile-name", name, "--folder", str(folder), *extra)


def test_setup_help_offers_exposed_backends_only(run, fake_plugin):
    result = run("profile", "setup", "--help")
    assert result.exit_code == 0
    assert "testfake.store" in result.output
    assert "testfake.hidden" not in result.output


def test_setup_options_are_generated_from_the_configuration(run, fake_plugin):
    result = run("profile", "setup", "testfake.store", "--help")
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for expected in (
        "--folder TEXT Folder of the storage. [required]",
        "--port INTEGER A port, to test integer options. [default: 5432]",
        "--password TEXT A secret, to test masking. --mode",
        "--mode [fast|safe]",
        "--engine-kwargs JSON A JSON option. [default: {}]",
        "--admin-password TEXT Admin secret used only during setup.",
        "--profile-name TEXT",
        "--set-default / --no-set-default",
        "--email TEXT",
    ):
        assert expected in text


def test_setup_creates_initialises_and_saves(run, fake_plugin, tmp_path, isolated_config_dir):
    folder = tmp_path / "store"
    result = setup_fake(
        run, "main", folder, "--port", "6000", "--password", "s3cret", "--mode", "fast",
        "--engine-kwargs", '{"echo": true}', "--email", "me@example.org",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output == "Created profile 'main' (default) on testfake.store.\n"
    assert json.loads((folder / "state.json").read_text()) == {"version": "2"}  # initialise ran
    assert json.loads((folder / "setup.json").read_text()) == {"admin_password_given": False}  # setup_storage ran
    path = isolated_config_dir / CONFIG_FILENAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    profile = Config.load().get_profile()
    assert profile.name == "main" and profile.default_user_email == "me@example.org"
    assert profile.storage_config == {
        "folder": str(folder), "port": 6000, "password": "s3cret", "mode": "fast", "engine_kwargs": {"echo": True},
    }  # fmt: skip


def test_second_profile_is_default_only_when_asked(run, fake_plugin, tmp_path):
    assert setup_fake(run, "first", tmp_path / "a").exit_code == 0
    assert setup_fake(run, "second", tmp_path / "b").output == "Created profile 'second' on testfake.store.\n"
    assert Config.load().default_profile_name == "first"
    assert setup_fake(run, "third", tmp_path / "c", "--set-default").exit_code == 0
    assert Config.load().default_profile_name == "third"


def test_setup_refuses_an_existing_name_and_changes_nothing(run, fake_plugin, tmp_path, isolated_config_dir):
    assert setup_fake(run, "main", tmp_path / "a").exit_code == 0
    before = (isolated_config_dir / CONFIG_FILENAME).read_text()
    result = setup_fake(run, "main", tmp_path / "b")
    assert result.exit_code == 1
    assert result.stderr == "Error: profile 'main' already exists; choose another name\n"
    assert (isolated_config_dir / CONFIG_FILENAME).read_text() == before
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize(
    ("options", "exit_code", "message"),
    [
        (["--port", "high"], 2, "'high' is not a valid integer"),
        (["--mode", "reckless"], 2, "'reckless' is not one of 'fast', 'safe'"),
        (["--engine-kwargs", "{oops"], 2, "Invalid value for --engine-kwargs: not valid JSON"),
        (["--engine-kwargs", "[1, 2]"], 1, "Error: invalid configuration for FakeStorage: field 'engine_kwargs'"),
        (["--port", "1", "--password", "a" * 3, "--engine-kwargs", '{"x": 1}', "--mode", "safe"], 0, ""),
    ],
)
def test_setup_invalid_values(run, fake_plugin, tmp_path, options, exit_code, message):
    result = setup_fake(run, "main", tmp_path / "store", *options)
    assert result.exit_code == exit_code, result.output
    assert message in result.output
    assert (Config.load().profile_names == ["main"]) == (exit_code == 0)


def test_setup_without_required_value_and_no_terminal_is_a_usage_error(run, fake_plugin):
    result = run("profile", "setup", "testfake.store", "--profile-name", "main")
    assert result.exit_code == 2
    assert "missing option --folder (required by testfake.store)" in result.stderr
    result = run("profile", "setup", "testfake.store", "--folder", "/x")
    assert result.exit_code == 2
    assert "missing option --profile-name" in result.stderr
    assert Config.load().profile_names == []


def test_setup_prompts_for_missing_values_on_a_terminal(run, fake_plugin, tmp_path, interactive):
    result = run("profile", "setup", "testfake.store", input=f"main\n{tmp_path / 'store'}\n")
    assert result.exit_code == 0, result.output
    assert "Profile name (--profile-name):" in result.output
    assert "Folder of the storage. (--folder):" in result.output
    assert Config.load().get_profile("main").storage_config["folder"] == str(tmp_path / "store")


def test_setup_of_unknown_or_hidden_backend(run, fake_plugin):
    result = run("profile", "setup", "testfake.stor", "--profile-name", "x")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: no storage backend named 'testfake.stor' is installed")
    assert "did you mean 'testfake.store'?" in result.stderr
    result = run("profile", "setup", "testfake.hidden", "--profile-name", "x")
    assert result.exit_code == 1
    assert result.stderr == "Error: backend 'testfake.hidden' cannot be set up from the command line\n"


def test_list_show_and_set_default(run, fake_plugin, tmp_path):
    assert run("profile", "list").output.startswith("No profiles;")
    setup_fake(run, "alpha", tmp_path / "a", "--password", "s3cret")
    setup_fake(run, "beta", tmp_path / "b")
    listing = run("profile", "list").output.splitlines()
    assert [line.split() for line in listing] == [
        ["NAME", "STORAGE"], ["*", "alpha", "testfake.store"], ["beta", "testfake.store"],
    ]  # fmt: skip
    shown = run("profile", "show")
    assert shown.exit_code == 0 and "s3cret" not in shown.output
    data = json.loads(shown.output)
    assert data["name"] == "alpha" and data["default"] is True
    assert data["storage"]["config"]["password"] == "****"
    assert run("profile", "set-default", "beta").output == "Profile 'beta' is now the default.\n"
    assert json.loads(run("profile", "show").output)["name"] == "beta"
    result = run("profile", "set-default", "gamma")
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: profile 'gamma' does not exist; existing profiles: alpha, beta\n",
    )


def test_show_masks_password_like_keys_even_without_the_backend(run, tmp_path):
    config = Config.load()
    from provstore.config import Profile

    config.add_profile(
        Profile("orphan", {"storage": {"backend": "gone.backend", "config": {"db_password": "s3cret", "nested": {
            "api_token": "t0ken", "host": "h"}}}})
    )  # fmt: skip
    config.save()
    result = run("profile", "show", "orphan")
    assert result.exit_code == 0
    assert json.loads(result.output)["storage"]["config"] == {
        "db_password": "****", "nested": {"api_token": "****", "host": "h"},
    }  # fmt: skip


def test_delete_removes_profile_and_data(run, fake_plugin, tmp_path):
    setup_fake(run, "main", tmp_path / "store")
    result = run("profile", "delete", "main", "--force")
    assert (result.exit_code, result.output) == (0, "Deleted profile 'main'; removed its storage (testfake.store).\n")
    assert not (tmp_path / "store").exists()
    assert Config.load().profile_names == []


def test_delete_keep_data(run, fake_plugin, tmp_path):
    setup_fake(run, "main", tmp_path / "store")
    assert run("profile", "delete", "main", "--force", "--keep-data").exit_code == 0
    assert (tmp_path / "store" / "state.json").exists()
    assert Config.load().profile_names == []


def test_delete_leaves_the_data_of_a_backend_that_cannot_delete_it(run, fake_plugin, tmp_path, monkeypatch):
    from provstore.exceptions import StorageError
    from provstore.storage import StorageBackend
    from testfake_plugin.backend import FakeStorage

    setup_fake(run, "main", tmp_path / "store")
    monkeypatch.setattr(FakeStorage, "can_delete_storage", False)
    monkeypatch.setattr(FakeStorage, "delete_storage", StorageBackend.delete_storage)  # the declared default
    result = run("profile", "delete", "main", "--force")
    assert result.exit_code == 0
    assert result.output == (
        "Backend 'testfake.store' cannot delete its data; it was left in place.\n"
        "Deleted profile 'main'; kept its storage (testfake.store).\n"
    )
    assert (tmp_path / "store" / "state.json").exists()
    with pytest.raises(StorageError, match=r"'testfake\.store' cannot delete its data"):
        FakeStorage.delete_storage(Profile("p", {"storage": {"backend": "testfake.store"}}))


def test_delete_needs_confirmation(run, fake_plugin, tmp_path, monkeypatch):
    setup_fake(run, "main", tmp_path / "store")
    result = run("profile", "delete", "main")
    assert result.exit_code == 2
    assert "refusing to delete profile 'main' and ALL its data without confirmation; use --force" in result.stderr
    monkeypatch.setattr(config_options, "stdin_is_tty", lambda: True)
    result = run("profile", "delete", "main", input="n\n")
    assert result.exit_code == 1
    assert Config.load().profile_names == ["main"] and (tmp_path / "store").exists()
    assert run("profile", "delete", "main", input="y\n").exit_code == 0
    assert Config.load().profile_names == []


def test_delete_of_profile_whose_plugin_is_gone(run, tmp_path):
    from provstore.config import Profile

    config = Config.load()
    config.add_profile(Profile("orphan", {"storage": {"backend": "gone.backend", "config": {}}}))
    config.save()
    result = run("profile", "delete", "orphan", "--force")
    assert result.exit_code == 1
    assert result.stderr.endswith("use --keep-data to delete only the profile\n")
    assert run("profile", "delete", "orphan", "--force", "--keep-data").exit_code == 0
    assert Config.load().profile_names == []


CLASHING_BACKEND = """
from pydantic import BaseModel
from testfake_plugin.backend import FakeStorage


class ClashingStorage(FakeStorage):
    class Configuration(BaseModel):
        email: str
"""


def test_configuration_field_clashing_with_a_setup_option(run, fake_plugin, tmp_path, monkeypatch):
    from provstore import hookimpl
    from provstore.hookspecs import BackendSpec

    (tmp_path / "clashing_backend.py").write_text(CLASHING_BACKEND)
    monkeypatch.syspath_prepend(str(tmp_path))

    class Clashing:
        @hookimpl
        def provstore_storage_backends(self):
            return [BackendSpec("testfake.clash", "clashing_backend:ClashingStorage", "Clashes.")]

    fake_plugin.register(Clashing(), "clashing")
    result = run("profile", "setup", "testfake.clash", "--profile-name", "x")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: backend 'testfake.clash': configuration field(s) clash with setup options: ['--email']\n"
    )
