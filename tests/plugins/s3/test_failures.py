"""core.s3 when things go wrong: a link cut mid-upload, mid-read and mid-listing, the server killed, and the
errors an S3 server answers; each gives one line naming the repository, never a secret, and nothing half-visible."""

from __future__ import annotations

import hashlib
import io
import os
import threading

import pytest
from faults import CuttableLink, ErrorServer
from provstore.exceptions import ConfigurationError, UnreachableStorage
from provstore_s3.backend import S3RepositoryBackend
from provstore_s3.testing import SECRET_ACCESS_KEY, S3TestServer, free_port
from test_backend import Unseekable

MiB = 1024 * 1024


def assert_one_line(exc: BaseException, *parts: str) -> None:
    message = str(exc)
    assert "\n" not in message and SECRET_ACCESS_KEY not in message
    for part in parts:
        assert part in message, message


@pytest.fixture
def link(s3_server):
    link = CuttableLink(s3_server.port)
    yield link
    link.cut()


def through(link, s3_config, **settings):
    """Return ``(repository through the link, the same repository reached directly)``, initialised."""
    config = s3_config(**settings)
    direct = S3RepositoryBackend.from_config(config)
    direct.initialise()
    return S3RepositoryBackend.from_config({**config, "endpoint_url": link.url}), direct


@pytest.mark.parametrize("seekable", [True, False], ids=["seekable", "unseekable"])
def test_link_cut_mid_upload_leaves_no_object(link, s3_config, seekable):
    repository, direct = through(link, s3_config)
    content = os.urandom(20 * MiB)
    link.cut_after(up=11 * MiB)  # during the second part
    with pytest.raises(UnreachableStorage) as failure:
        repository.put_object_from_filelike(io.BytesIO(content) if seekable else Unseekable(content))
    assert_one_line(failure.value, repository._bucket)
    assert not direct.has_object(hashlib.sha256(content).hexdigest())
    assert list(direct.list_objects()) == []
    report = direct.maintain(live=False)  # the unfinished upload the dead link could not abort
    assert report["operations"]["unfinished_uploads"]["count"] <= 1
    info = direct.get_info(detailed=True)
    assert (info["objects"]["count"], info["staging"]["count"], info["unfinished_uploads"]) == (0, 0, 0)


def test_link_cut_mid_batch_write_leaves_only_whole_objects(link, s3_config):
    repository, direct = through(link, s3_config)
    contents = [os.urandom(256 * 1024) for _ in range(40)]
    link.cut_after(up=3 * MiB)
    with pytest.raises(UnreachableStorage):
        repository.put_objects_from_filelikes([io.BytesIO(content) for content in contents])
    stored = set(direct.list_objects())
    assert len(stored) < len(contents)
    by_key = {hashlib.sha256(content).hexdigest(): content for content in contents}
    assert stored <= set(by_key)
    for key, stream in direct.iter_object_streams(sorted(stored)):
        assert stream.read() == by_key[key]


def test_link_cut_mid_read_is_an_error_not_a_short_object(link, s3_config):
    repository, direct = through(link, s3_config)
    key = direct.put_object_from_filelike(io.BytesIO(os.urandom(12 * MiB)))
    with repository.open(key) as handle:
        assert len(handle.read(MiB)) == MiB
        link.cut_after(down=2 * MiB)
        with pytest.raises(UnreachableStorage) as failure:
            while handle.read(MiB):
                pass
    assert_one_line(failure.value, repository._bucket, f"read object {key}")


def test_link_cut_mid_listing_is_an_error_not_a_short_list(link, s3_config):
    repository, direct = through(link, s3_config)
    repository.list_page_size = direct.list_page_size = 10
    keys = direct.put_objects_from_filelikes([io.BytesIO(f"listed {i}".encode()) for i in range(35)])
    listed = repository.list_objects()
    first_page = [next(listed) for _ in range(10)]
    link.cut_after(down=0)
    with pytest.raises(UnreachableStorage) as failure:
        list(listed)
    assert_one_line(failure.value, repository._bucket, "list the objects")
    assert set(first_page) <= set(keys) and sorted(direct.list_objects()) == sorted(keys)


def test_server_killed_mid_upload(s3_config):
    with S3TestServer() as server:
        config = server.repository_config(s3_config()["bucket"], max_attempts=2, connect_timeout=2)
        repository = S3RepositoryBackend.from_config(config)
        repository.initialise()
        stream = Unseekable(os.urandom(12 * MiB), pause_at=9 * MiB)
        errors = []

        def write():
            try:
                repository.put_object_from_filelike(stream)
            except Exception as exc:
                errors.append(exc)

        writer = threading.Thread(target=write)
        writer.start()
        assert stream.paused.wait(30)
        server.kill()
        stream.resume.set()
        writer.join(60)
    assert len(errors) == 1 and isinstance(errors[0], UnreachableStorage)
    assert_one_line(errors[0], "cannot reach the endpoint")


def test_unreachable_endpoint(s3_config):
    config = s3_config(endpoint_url=f"http://127.0.0.1:{free_port()}", connect_timeout=1)
    repository = S3RepositoryBackend.from_config(config)
    with pytest.raises(UnreachableStorage) as failure:
        repository.initialise()
    assert_one_line(failure.value, f"s3://{config['bucket']}/", "cannot reach the endpoint", "after 2 attempts")


def test_missing_bucket(s3_config):
    repository = S3RepositoryBackend.from_config(s3_config())
    assert not repository.is_initialised
    with pytest.raises(UnreachableStorage) as failure:
        list(repository.list_objects())
    assert_one_line(failure.value, "the bucket does not exist")
    with pytest.raises(UnreachableStorage, match="the bucket does not exist"):
        repository.put_object_from_filelike(io.BytesIO(b"x"))


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (403, "InvalidAccessKeyId", "the server refused the credentials (InvalidAccessKeyId)"),
        (403, "SignatureDoesNotMatch", "the server refused the credentials (SignatureDoesNotMatch)"),
        (403, "AccessDenied", "permission denied to list the objects (AccessDenied)"),
        (503, "SlowDown", "throttling requests (SlowDown, still after 3 attempts with backoff)"),
    ],
    ids=["unknown-key", "wrong-secret", "denied", "throttled"],
)
def test_server_errors_give_one_line(s3_config, status, code, expected):
    server = ErrorServer(status, code, "the message of the server")
    try:
        repository = S3RepositoryBackend.from_config(s3_config(endpoint_url=server.url, max_attempts=3))
        with pytest.raises(UnreachableStorage) as failure:
            list(repository.list_objects())
        assert_one_line(failure.value, f"s3://{repository._bucket}/", expected)
        if status == 503:
            assert server.requests >= 3  # throttling is retried with backoff
        else:
            assert server.requests == 1  # refused credentials and permissions are not
    finally:
        server.close()


def test_permission_denied_on_head(s3_config):
    server = ErrorServer(403, "AccessDenied")
    try:
        repository = S3RepositoryBackend.from_config(s3_config(endpoint_url=server.url))
        with pytest.raises(UnreachableStorage, match="permission denied"):
            repository.has_object(hashlib.sha256(b"x").hexdigest())
    finally:
        server.close()


def test_unknown_aws_profile_is_a_configuration_error(s3_config, monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    repository = S3RepositoryBackend.from_config(s3_config(aws_profile="nobody"))
    with pytest.raises(ConfigurationError, match="nobody"):
        repository.is_initialised  # noqa: B018
