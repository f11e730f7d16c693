"""core.s3 as the repository of storage profiles: options, masked credentials, maintenance and transfers.

The PostgreSQL tests use the session's throwaway cluster (``pg_database``) and are marked ``postgres``.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from provstore.cli import cli
from provstore.cli.config_options import field_options
from provstore.config import Config, Profile
from provstore.plugins import get_plugin_manager
from provstore.storage import EntityTypes
from provstore.testing.profiles import make_profile
from provstore.transfer import transfer_storage
from provstore_s3.backend import S3RepositoryBackend
from provstore_s3.testing import ACCESS_KEY_ID, SECRET_ACCESS_KEY


def test_configuration_becomes_options_with_secrets_hidden():
    options = {item.option.opts[0]: item for item in field_options(S3RepositoryBackend.Configuration, "config_")}
    assert options["--bucket"].field.is_required()
    assert {flag for flag, item in options.items() if item.secret} == {
        "--access-key-id",
        "--secret-access-key",
        "--session-token",
    }
    assert "--endpoint-url" in options and "--prefix" in options and "--create-bucket" in options


def s3_profile(name: str, folder: Path, repository: dict[str, Any], **storage_extra: Any) -> Profile:
    """Return a profile on ``core.sqlite_dos`` (or on ``core.psql_dos`` when given its settings) with files in S3."""
    backend = "core.psql_dos" if storage_extra else "core.sqlite_dos"
    attributes = make_profile(backend, folder, **storage_extra).dictionary
    attributes["repository"] = {"backend": "core.s3", "config": repository}
    return Profile(name, attributes)


@pytest.fixture
def open_store(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Return ``open_store(profile)``: the profile's storage initialised and open; closed after the test."""
    opened = []

    def factory(profile: Profile) -> Any:
        storage_cls = get_plugin_manager().get_storage_backend(profile.storage_backend)
        storage_cls.initialise(profile)
        storage = storage_cls(profile)
        opened.append(storage)
        return storage

    yield factory
    for storage in opened:
        storage.close()


def test_profile_show_and_storage_info_never_print_credentials(s3_config, tmp_path, open_store):
    profile = s3_profile("files-in-s3", tmp_path, s3_config(session_token="token-5e1f"))
    storage = open_store(profile)
    storage.get_repository().put_object_from_filelike(io.BytesIO(b"content"))
    with Config.edit() as config:
        config.add_profile(profile)
    runner = CliRunner()
    shown = runner.invoke(cli, ["profile", "show", "files-in-s3"], catch_exceptions=False).output
    info = runner.invoke(cli, ["-p", "files-in-s3", "storage", "info", "--detailed", "--json"]).output
    for output in (shown, info, repr(storage.get_repository())):
        for secret in (ACCESS_KEY_ID, SECRET_ACCESS_KEY, "token-5e1f"):
            assert secret not in output
    repository = json.loads(shown)["repository"]["config"]
    assert repository["secret_access_key"] == repository["access_key_id"] == repository["session_token"] == "****"
    assert json.loads(info)["repository"]["objects"] == {"count": 1, "bytes": 7}


def populate(storage: Any, nodes: int = 12) -> dict[str, bytes]:
    """Store nodes whose files (one shared by all) live in the storage's repository; return their contents."""
    repository = storage.get_repository()
    contents = {f"node {index}": f"content of node {index}\n".encode() * (index + 1) for index in range(nodes)}
    shared = repository.put_object_from_filelike(io.BytesIO(b"shared by every node"))
    user = storage.bulk_insert(EntityTypes.USER, [{"email": f"{uuid.uuid4().hex}@example.org"}], allow_defaults=True)
    rows = []
    for label, content in contents.items():
        key = repository.put_object_from_filelike(io.BytesIO(content))
        files = {"o": {"data.txt": {"k": key}, "shared.txt": {"k": shared}}}
        rows.append({"uuid": str(uuid.uuid4()), "node_type": "data.", "label": label, "user_id": user[0]})
        rows[-1]["repository_metadata"] = files
    storage.bulk_insert(EntityTypes.NODE, rows, allow_defaults=True)
    return {**contents, "shared": b"shared by every node"}


def files_of(storage: Any) -> dict[str, bytes]:
    """Return ``{label: content of data.txt}`` of every node, plus the shared file, read from the repository."""
    repository = storage.get_repository()
    result = {}
    for label, metadata in storage.query().append("node", project=["label", "repository_metadata"]).all():
        result[label] = repository.get_object_content(metadata["o"]["data.txt"]["k"])
        result["shared"] = repository.get_object_content(metadata["o"]["shared.txt"]["k"])
    return result


def test_full_maintenance_deletes_unreferenced_objects_from_the_bucket(s3_config, tmp_path, open_store):
    storage = open_store(s3_profile("maintained", tmp_path, s3_config()))
    contents = populate(storage, nodes=3)
    repository = storage.get_repository()
    orphan = repository.put_object_from_filelike(io.BytesIO(b"no node references me"))
    dry = storage.maintain(full=True, dry_run=True)
    assert dry["unreferenced_objects"] == {"count": 1, "deleted": False} and repository.has_object(orphan)
    storage.maintain(full=True)
    assert not repository.has_object(orphan)
    assert files_of(storage) == contents


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.parametrize("direction", ["psql_s3-to-sqlite_dos", "sqlite_dos-to-psql_s3"])
def test_transfer_between_psql_dos_with_s3_files_and_sqlite_dos(
    s3_config, tmp_path, open_store, pg_database, direction
):
    psql_s3 = open_store(s3_profile("psql-s3", tmp_path / "psql", s3_config(prefix="shared/provstore"), **pg_database))
    sqlite_dos = open_store(make_profile("core.sqlite_dos", tmp_path / "sqlite"))
    source, target = (psql_s3, sqlite_dos) if direction.startswith("psql") else (sqlite_dos, psql_s3)
    contents = populate(source)
    report = transfer_storage(source, target, batch_size=5)
    assert report.verified and report.key_conversion is None
    assert report.objects.copied == len(contents)
    assert files_of(target) == contents
    assert sorted(target.get_repository().list_objects()) == sorted(source.get_repository().list_objects())
    again = transfer_storage(source, target, batch_size=5)
    assert (again.objects.copied, again.objects.existing) == (0, len(contents))  # same keys: nothing to copy


def test_errors_of_the_repository_name_the_profile(s3_config, tmp_path):
    """A refusal of the S3 repository of a profile names the profile as well as bucket and endpoint."""
    from provstore.exceptions import ProvstoreError

    repository = s3_config(create_bucket=False)
    profile = s3_profile("lab-s3", tmp_path, repository)
    storage_cls = get_plugin_manager().get_storage_backend(profile.storage_backend)
    with pytest.raises(ProvstoreError) as failure:
        storage_cls.initialise(profile)
    message = str(failure.value)
    assert message.startswith("profile 'lab-s3': S3 repository s3://") and "does not exist" in message, message
    assert "\n" not in message and repository["bucket"] in message
