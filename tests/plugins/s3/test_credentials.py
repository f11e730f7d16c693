"""core.s3 against moto's server checking credentials and permissions (IAM): each refusal is one line naming the
bucket and the endpoint, never a secret, and what was refused leaves nothing behind."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from provstore.exceptions import StorageError, UnreachableStorage
from provstore_s3.backend import S3RepositoryBackend
from provstore_s3.testing import S3TestServer

pytestmark = pytest.mark.slow  # a server of its own: credentials, once required, stay required

BUCKET = "guarded"


@pytest.fixture(scope="module")
def guarded() -> Iterator[dict[str, tuple[str, str]]]:
    """Return ``{server, admin, stranger}``: moto checking credentials, a user allowed all of S3, one allowed none."""
    with S3TestServer() as server:
        users = {
            "admin": server.add_user("admin", ["s3:*"]),
            "stranger": server.add_user("stranger", []),
            "no-writer": server.add_user("no-writer", ["s3:*Bucket", "s3:List*", "s3:Get*", "s3:Head*"]),
        }
        server.require_credentials()
        admin = S3RepositoryBackend.from_config(config(server, users["admin"]))
        admin.initialise()
        yield {"server": server, **users}  # type: ignore[dict-item]


def config(server: S3TestServer, credentials: tuple[str, str], bucket: str = BUCKET) -> dict[str, object]:
    key, secret = credentials
    return server.repository_config(bucket, access_key_id=key, secret_access_key=secret, max_attempts=2)


def refusal(action, guarded, credentials, bucket: str = BUCKET) -> StorageError:
    """Return the error ``action(repository)`` raises, checked to be one line naming bucket and endpoint only."""
    server = guarded["server"]
    repository = S3RepositoryBackend.from_config(config(server, credentials, bucket))
    with pytest.raises(StorageError) as failure:
        action(repository)
    message = str(failure.value)
    assert "\n" not in message
    assert f"s3://{bucket}/" in message and server.url in message, message
    assert credentials[1] not in message and guarded["admin"][1] not in message
    return failure.value


def objects(guarded) -> list[str]:
    """Return the keys in the bucket, listed with the admin's credentials."""
    admin = S3RepositoryBackend.from_config(config(guarded["server"], guarded["admin"]))
    return list(admin.list_objects())


def put(repository: S3RepositoryBackend) -> str:
    return repository.put_object_from_filelike(io.BytesIO(b"refused content"))


def test_credentials_are_required(guarded):
    with pytest.raises(UnreachableStorage, match="refused the credentials"):
        list(S3RepositoryBackend.from_config(guarded["server"].repository_config(BUCKET)).list_objects())


def test_unknown_access_key(guarded):
    error = refusal(put, guarded, ("AKIAUNKNOWNKEY000000", "not-a-secret-of-anyone"))
    assert isinstance(error, UnreachableStorage)
    assert "the server refused the credentials (InvalidAccessKeyId)" in str(error)
    assert objects(guarded) == []


def test_wrong_secret_on_a_look_up(guarded):
    """A HEAD answer has no error code: the line names both possible causes rather than guessing one."""
    key, _ = guarded["stranger"]
    error = refusal(lambda repository: repository.has_object("0" * 64), guarded, (key, "a-wrong-secret-0000"))
    assert "(403), or the server refused the credentials; check the access key" in str(error)


def test_wrong_secret(guarded):
    key, _ = guarded["stranger"]
    error = refusal(put, guarded, (key, "a-wrong-secret-0000"))
    assert "the server refused the credentials (SignatureDoesNotMatch)" in str(error)
    assert objects(guarded) == []


@pytest.mark.parametrize(
    ("action", "what"),
    [
        (put, "permission denied to "),
        (lambda repository: list(repository.list_objects()), "permission denied to list the objects (AccessDenied)"),
        (lambda repository: repository.has_object("0" * 64), "permission denied to look up"),  # HEAD: no code
    ],
    ids=["write", "list", "look-up"],
)
def test_permission_denied(guarded, action, what):
    error = refusal(action, guarded, guarded["stranger"])
    assert isinstance(error, UnreachableStorage)
    assert what in str(error)
    assert objects(guarded) == []


def test_initialise_refused_half_way_leaves_no_bucket(guarded):
    """A user who may create the bucket but not write into it: initialise fails and removes the bucket it made."""
    error = refusal(lambda repository: repository.initialise(), guarded, guarded["no-writer"], bucket="half-made")
    assert "permission denied to write the repository identity (AccessDenied)" in str(error)
    admin = S3RepositoryBackend.from_config(config(guarded["server"], guarded["admin"], bucket="half-made"))
    assert not admin._bucket_exists()


def test_missing_bucket(guarded):
    error = refusal(put, guarded, guarded["admin"], bucket="no-such-bucket")
    assert "the bucket does not exist" in str(error)


def test_admin_writes_and_reads(guarded):
    """The same server and users do work when allowed: the refusals above are the server's, not the setup's."""
    admin = S3RepositoryBackend.from_config(config(guarded["server"], guarded["admin"]))
    key = put(admin)
    try:
        assert admin.get_object_content(key) == b"refused content"
    finally:
        admin.delete_objects([key])
