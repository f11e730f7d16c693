"""Choosing the repository backend in ``profile setup`` (``--repository-backend``), and ``storage init``.

The files of a storage go to its default repository unless ``--repository-backend NAME`` names another one,
whose settings become ``--repository-FIELD`` options; a profile written into ``config.json`` by hand is
initialised with ``provstore -p NAME storage init``. The ``core.s3`` tests (marked slow) run a moto S3 server.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from pathlib import Path

import provstore
import pytest
from provstore.config import Config, Profile


def _config_file() -> Path:
    return Path(os.environ["PROVSTORE_CONFIG_DIR"]) / "config.json"


def _sqlite_setup(run, name: str, folder: Path, *options: str):
    return run("profile", "setup", "core.sqlite_dos", "--profile-name", name, "--filepath", str(folder), *options)


def test_another_repository_backend_holds_the_files_with_its_own_options(run, tmp_path):
    result = _sqlite_setup(
        run, "split", tmp_path / "db", "--repository-backend", "core.diskobjectstore",
        "--repository-filepath", str(tmp_path / "files"), "--repository-loose-prefix-len", "3",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output == "Created profile 'split' (default) on core.sqlite_dos with files in core.diskobjectstore.\n"
    saved = json.loads(_config_file().read_text())["profiles"]["split"]
    assert saved["repository"]["backend"] == "core.diskobjectstore"
    assert saved["repository"]["config"]["filepath"] == str(tmp_path / "files")
    assert saved["repository"]["config"]["loose_prefix_len"] == 3
    with provstore.open_storage("split") as storage:
        key = storage.get_repository().put_object_from_filelike(io.BytesIO(b"content"))
        assert storage.get_repository().get_object_content(key) == b"content"
    assert (tmp_path / "files").is_dir() and not (tmp_path / "db" / "container").exists()

    assert _sqlite_setup(run, "plain", tmp_path / "plain").exit_code == 0  # without the option: as before
    assert "repository" not in json.loads(_config_file().read_text())["profiles"]["plain"]
    assert (tmp_path / "plain" / "container").is_dir()


def test_a_temporary_sandbox_repository_is_refused_and_leaves_nothing(run, tmp_path):
    before = _config_file().read_text() if _config_file().exists() else None
    result = _sqlite_setup(
        run, "sand", tmp_path / "db", "--repository-backend", "core.sandbox", "--repository-key-format", "sha256"
    )
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert "profile 'sand' was not created: its storage does not work" in result.output
    assert "the storage it had initialised was deleted again" in result.output
    assert (_config_file().read_text() if _config_file().exists() else None) == before
    assert not (tmp_path / "db" / "database.sqlite").exists()


def test_an_unknown_repository_backend_names_the_closest(run, tmp_path):
    result = _sqlite_setup(run, "x", tmp_path / "db", "--repository-backend", "core.s4")
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert "no repository backend named 'core.s4' is installed" in result.output
    assert result.output.endswith("did you mean 'core.s3'?\n")
    assert not (tmp_path / "db").exists()


def test_repository_options_need_their_backend(run, tmp_path):
    alone = _sqlite_setup(run, "x", tmp_path / "db", "--repository-bucket", "b")
    assert alone.exit_code == 2
    assert "option --repository-bucket is a setting of a repository backend: choose the backend with " in alone.output
    assert "--repository-backend NAME" in alone.output
    other = _sqlite_setup(run, "x", tmp_path / "db", "--repository-backend", "core.sandbox", "--repository-bucket=b")
    assert other.exit_code == 2
    assert (
        "no such option --repository-bucket: repository backend 'core.sandbox' takes --repository-filepath, "
        "--repository-key-format" in other.output
    )
    assert not (tmp_path / "db").exists() and not _config_file().exists()


def test_help_shows_the_options_of_the_chosen_repository_with_secrets_masked(run):
    plain = " ".join(run("profile", "setup", "core.sqlite_dos", "--help").output.split())
    assert "--repository-backend NAME Repository backend that holds the files (default: core.diskobjectstore" in plain
    assert "--repository-bucket" not in plain
    text = " ".join(
        run("profile", "setup", "core.sqlite_dos", "--repository-backend", "core.s3", "--help").output.split()
    )
    assert "--repository-bucket TEXT Name of the bucket" in text and "[required]" in text
    assert "--repository-secret-access-key-file PATH Read the value of" in text
    assert "--repository-create-bucket / --no-repository-create-bucket" in text


@pytest.mark.postgres
def test_psql_dos_with_another_repository_needs_no_repository_uri(run, pg_database, tmp_path):
    database = [f"--{key.replace('_', '-')}={value}" for key, value in pg_database.items()]
    args = ["profile", "setup", "core.psql_dos", "--profile-name", "pg", *database]
    missing = run(*args)  # the default repository needs its folder, as before
    assert missing.exit_code == 2 and "missing option --repository-uri (required by core.psql_dos)" in missing.output
    other = ["--repository-backend", "core.diskobjectstore", "--repository-filepath", str(tmp_path / "files")]
    refused = run(*args, *other, "--repository-uri", str(tmp_path / "unused"))
    assert refused.exit_code == 2
    assert "--repository-uri configures core.psql_dos's default repository (core.diskobjectstore)" in refused.output
    result = run(*args, *other)
    assert result.exit_code == 0, result.output
    saved = json.loads(_config_file().read_text())["profiles"]["pg"]
    assert saved["storage"]["config"]["repository_uri"] is None
    with provstore.open_storage("pg") as storage:
        storage.get_repository().put_object_from_filelike(io.BytesIO(b"x"))
    assert (tmp_path / "files").is_dir() and not (tmp_path / "unused").exists()


# ------------------------------------------------------------------------------ storage init
def _write_profile(name: str, attributes: dict) -> None:
    """Add a profile to config.json as a user editing the file would: nothing is initialised."""
    with Config.edit() as config:
        config.add_profile(Profile(name, attributes))


def test_storage_init_initialises_a_hand_written_profile_once(run, tmp_path):
    _write_profile(
        "hand",
        {
            "storage": {"backend": "core.sqlite_dos", "config": {"filepath": str(tmp_path / "db")}},
            "repository": {"backend": "core.diskobjectstore", "config": {"filepath": str(tmp_path / "files")}},
        },
    )
    assert run("-p", "hand", "storage", "info").exit_code == 1  # not initialised yet
    result = run("-p", "hand", "storage", "init")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Initialised the storage of profile 'hand' on core.sqlite_dos (schema version ")
    with provstore.open_storage("hand") as storage:
        storage.get_repository().put_object_from_filelike(io.BytesIO(b"kept"))
    database = tmp_path / "db" / "database.sqlite"
    stamp = (database.stat().st_mtime_ns, sorted(p.name for p in (tmp_path / "files").rglob("*")))

    again = run("-p", "hand", "storage", "init")
    assert again.exit_code == 0
    assert again.output.startswith("The storage of profile 'hand' is initialised already (schema version ")
    assert again.output.endswith("nothing was changed.\n") and again.output.count("\n") == 1
    assert (database.stat().st_mtime_ns, sorted(p.name for p in (tmp_path / "files").rglob("*"))) == stamp
    with provstore.open_storage("hand") as storage:
        assert storage.get_info()["repository"]["objects"]["loose"] == 1


def test_storage_init_checks_the_new_storage_as_setup_does(run, tmp_path):
    _write_profile(
        "sand",
        {
            "storage": {"backend": "core.sqlite_dos", "config": {"filepath": str(tmp_path / "db")}},
            "repository": {"backend": "core.sandbox", "config": {}},
        },
    )
    result = run("-p", "sand", "storage", "init")
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert "the storage of profile 'sand' was not initialised: its storage does not work" in result.output
    assert not (tmp_path / "db" / "database.sqlite").exists()  # deleted again
    assert "  init  " in run("storage", "--help").output


# ------------------------------------------------------------------------------- core.s3 (slow)
@pytest.fixture(scope="module")
def s3_server() -> Iterator[object]:
    """Return a moto S3 server on 127.0.0.1 for this module's tests."""
    pytest.importorskip("moto.server", reason="the S3 tests need moto[server] (requirements-dev.txt)")
    from provstore_s3.testing import S3TestServer

    with S3TestServer() as server:
        yield server


@pytest.mark.slow
def test_setup_with_files_in_s3_keeps_the_credentials_out_of_the_command_line(run, s3_server, tmp_path):
    from provstore_s3.testing import ACCESS_KEY_ID, SECRET_ACCESS_KEY

    (tmp_path / "key-id").write_text(ACCESS_KEY_ID + "\n")
    (tmp_path / "secret").write_text(SECRET_ACCESS_KEY + "\n")
    result = _sqlite_setup(
        run, "s3", tmp_path / "db", "--repository-backend", "core.s3",
        "--repository-bucket", "setup-bucket", "--repository-endpoint-url", s3_server.url,
        "--repository-region", "us-east-1", "--repository-addressing-style", "path",
        "--repository-access-key-id-file", str(tmp_path / "key-id"),
        "--repository-secret-access-key-file", str(tmp_path / "secret"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    saved = json.loads(_config_file().read_text())["profiles"]["s3"]["repository"]
    assert saved["backend"] == "core.s3" and saved["config"]["secret_access_key"] == SECRET_ACCESS_KEY
    shown = run("profile", "show", "s3").output
    assert SECRET_ACCESS_KEY not in shown and ACCESS_KEY_ID not in shown + result.output
    with provstore.open_storage("s3") as storage:
        key = storage.get_repository().put_object_from_filelike(io.BytesIO(b"in the bucket"))
    bucket = s3_server.client().list_objects_v2(Bucket="setup-bucket")
    assert bucket["KeyCount"] >= 1
    with provstore.open_storage("s3") as storage:
        assert storage.get_repository().get_object_content(key) == b"in the bucket"


@pytest.mark.slow
def test_storage_init_initialises_a_hand_written_s3_profile(run, s3_server, tmp_path):
    repository = s3_server.repository_config("init-bucket", endpoint_url=s3_server.url)
    _write_profile(
        "hand-s3",
        {
            "storage": {"backend": "core.sqlite_dos", "config": {"filepath": str(tmp_path / "db")}},
            "repository": {"backend": "core.s3", "config": repository},
        },
    )
    result = run("-p", "hand-s3", "storage", "init")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Initialised the storage of profile 'hand-s3' on core.sqlite_dos")
    with provstore.open_storage("hand-s3") as storage:
        storage.get_repository().put_object_from_filelike(io.BytesIO(b"x"))
        assert storage.get_info()["repository"]["backend"] == "core.s3"
    assert run("-p", "hand-s3", "storage", "init").output.endswith("nothing was changed.\n")


def test_a_store_read_in_place_offers_no_repository_choice(run, tmp_path):
    result = run(
        "profile", "setup", "core.aiida_sqlite_dos", "--profile-name", "x", "--filepath", str(tmp_path),
        "--repository-backend", "core.s3",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "core.aiida_sqlite_dos has a fixed repository, so it takes no repository options" in result.output
    assert "--repository-backend" not in run("profile", "setup", "core.aiida_sqlite_dos", "--help").output


def test_a_psql_dos_profile_without_repository_uri_needs_a_repository_section(tmp_path):
    from provstore.exceptions import ConfigurationError
    from provstore.storage import StorageBackend

    storage = {"backend": "core.psql_dos", "config": {"database_username": "u", "database_name": "d"}}
    with pytest.raises(ConfigurationError, match=r"^profile 'bare': core\.psql_dos needs 'repository_uri'"):
        StorageBackend.repository_for(Profile("bare", {"storage": storage}))
    files = {"backend": "core.diskobjectstore", "config": {"filepath": str(tmp_path / "files")}}
    repository = StorageBackend.repository_for(Profile("split", {"storage": storage, "repository": files}))
    assert repository.is_initialised is False and "files" in repr(repository)
