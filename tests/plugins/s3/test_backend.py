"""core.s3 beyond the kit: the keys diskobjectstore gives, atomic visibility, paging, batching, maintenance, erase."""

from __future__ import annotations

import hashlib
import io
import os
import threading
from typing import Any

import pytest
from provstore.exceptions import ConfigurationError
from provstore.plugins import get_plugin_manager
from provstore_s3.backend import OBJECTS, S3RepositoryBackend

MiB = 1024 * 1024


class Unseekable(io.RawIOBase):
    """A byte stream that cannot be rewound; it may wait at ``pause_at`` until ``resume`` is set."""

    def __init__(self, content: bytes, pause_at: int | None = None) -> None:
        self._content = io.BytesIO(content)
        self.pause_at = pause_at
        self.paused = threading.Event()
        self.resume = threading.Event()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.pause_at is not None and self._content.tell() >= self.pause_at:
            self.paused.set()
            self.resume.wait(30)
            self.pause_at = None
        return self._content.readinto(buffer)


def test_registered_as_core_s3():
    assert get_plugin_manager().get_repository_backend("core.s3") is S3RepositoryBackend


@pytest.mark.parametrize("size", [0, 1000, 9 * MiB], ids=["empty", "small", "multipart"])
def test_keys_equal_diskobjectstore_keys(s3_repository, tmp_path, size):
    from provstore_diskobjectstore.backend import DiskObjectStoreRepositoryBackend

    content = os.urandom(size)
    container = DiskObjectStoreRepositoryBackend(tmp_path / "container")
    container.initialise()
    expected = container.put_object_from_filelike(io.BytesIO(content))
    assert s3_repository.put_object_from_filelike(io.BytesIO(content)) == expected  # seekable: hashed first
    assert s3_repository.put_object_from_filelike(Unseekable(content)) == expected  # staged, then copied
    assert list(s3_repository.list_objects()) == [expected]
    assert s3_repository.get_object_content(expected) == content


def test_unseekable_upload_is_invisible_until_complete(s3_repository, s3_server):
    content = os.urandom(12 * MiB)
    key = hashlib.sha256(content).hexdigest()
    stream = Unseekable(content, pause_at=10 * MiB)
    writer = threading.Thread(target=lambda: s3_repository.put_object_from_filelike(stream))
    writer.start()
    try:
        assert stream.paused.wait(30)
        client = s3_server.client()
        uploads = client.list_multipart_uploads(Bucket=s3_repository._bucket).get("Uploads", [])
        assert [upload["Key"].split("/")[0] for upload in uploads] == ["staging"]  # a multipart upload in progress
        assert not s3_repository.has_object(key)
        assert list(s3_repository.list_objects()) == []
    finally:
        stream.resume.set()
        writer.join(60)
    assert s3_repository.has_object(key) and s3_repository.get_object_hash(key) == key
    info = s3_repository.get_info(detailed=True)
    assert (info["objects"]["count"], info["staging"]["count"], info["unfinished_uploads"]) == (1, 0, 0)


def test_seekable_upload_of_stored_content_sends_nothing(s3_repository, s3_server, tmp_path):
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(9 * MiB))
    key = s3_repository.put_object_from_file(path)
    client = s3_server.client()
    modified = client.head_object(Bucket=s3_repository._bucket, Key=OBJECTS + key)["LastModified"]
    assert s3_repository.put_object_from_file(path) == key
    assert client.head_object(Bucket=s3_repository._bucket, Key=OBJECTS + key)["LastModified"] == modified


def test_content_changing_during_a_seekable_upload_is_refused(s3_repository, tmp_path):
    from provstore.exceptions import ValidationError

    class Changing(io.BytesIO):
        def seek(self, offset, whence=0):  # the second pass reads other bytes than the first
            position = super().seek(offset, whence)
            self.getbuffer()[0] ^= 0xFF
            return position

    with pytest.raises(ValidationError, match="changed while it was being stored"):
        s3_repository.put_object_from_filelike(Changing(os.urandom(9 * MiB)))
    assert list(s3_repository.list_objects()) == []
    assert s3_repository.get_info(detailed=True)["unfinished_uploads"] == 0


@pytest.mark.slow
def test_many_keys_page_and_delete_in_batches(s3_repository):
    contents = [f"object {index}".encode() for index in range(1050)]  # more than one page of 1,000 keys
    keys = s3_repository.put_objects_from_filelikes(io.BytesIO(content) for content in contents)
    assert keys == [hashlib.sha256(content).hexdigest() for content in contents]
    assert sorted(s3_repository.list_objects()) == sorted(keys)
    absent = hashlib.sha256(b"absent").hexdigest()
    asked = [keys[5], absent, keys[1049], keys[5], "no-sha256"]
    assert s3_repository.has_objects(asked) == [True, False, True, True, False]
    info = s3_repository.get_info()
    assert info["objects"] == {"count": 1050, "bytes": sum(map(len, contents))}
    s3_repository.delete_objects(keys[:1020])  # two DeleteObjects requests
    assert sorted(s3_repository.list_objects()) == sorted(keys[1020:])


def test_iter_object_streams_in_the_order_asked_and_stopping_early(s3_repository):
    keys = [s3_repository.put_object_from_filelike(io.BytesIO(f"stream {i}".encode())) for i in range(30)]
    order = keys[::-1]
    assert [key for key, _ in s3_repository.iter_object_streams(order)] == order
    for index, (key, stream) in enumerate(s3_repository.iter_object_streams(order)):
        assert hashlib.sha256(stream.read()).hexdigest() == key
        if index == 3:
            break  # the prefetched responses are released
    assert s3_repository.get_object_content(keys[0]) == b"stream 0"


def test_maintain_lists_and_removes_leftovers_of_interrupted_writes(s3_config, s3_server):
    # moto dates every unfinished upload 2010-11-10 in its listing: only an age above that counts as young there
    repository = S3RepositoryBackend.from_config(s3_config(stale_upload_age=30 * 365 * 86400))
    repository.initialise()
    client, bucket = s3_server.client(), repository._bucket
    kept = repository.put_object_from_filelike(io.BytesIO(b"kept"))
    client.create_multipart_upload(Bucket=bucket, Key="staging/dead-writer")
    client.put_object(Bucket=bucket, Key="staging/dead-copy", Body=b"x" * 10)

    live = repository.maintain(dry_run=True)  # young leftovers may belong to writes in progress
    assert live["operations"]["unfinished_uploads"]["count"] == live["operations"]["staging_objects"]["count"] == 0

    report = repository.maintain(dry_run=True, live=False)
    operations = report["operations"]
    assert [item["key"] for item in operations["unfinished_uploads"]["items"]] == ["staging/dead-writer"]
    assert operations["staging_objects"]["items"] == ["staging/dead-copy"]
    assert not operations["staging_objects"]["done"]
    assert repository.get_info(detailed=True)["unfinished_uploads"] == 1

    repository.maintain(live=False)
    info = repository.get_info(detailed=True)
    assert (info["unfinished_uploads"], info["staging"]["count"], info["objects"]["count"]) == (0, 0, 1)
    assert repository.get_object_content(kept) == b"kept"


def test_maintain_verify_reports_corrupt_objects(s3_repository, s3_server):
    good = s3_repository.put_object_from_filelike(io.BytesIO(b"good"))
    bad = hashlib.sha256(b"original").hexdigest()
    s3_server.client().put_object(Bucket=s3_repository._bucket, Key=OBJECTS + bad, Body=b"tampered")
    verified = s3_repository.maintain(verify=True)["operations"]["verify"]
    assert verified["checked"] == 2 and verified["corrupt"] == [bad]
    assert s3_repository.has_objects([good, bad]) == [True, True]  # reported, not deleted


def test_initialise_creates_the_bucket_only_if_allowed(s3_config, s3_server):
    config = s3_config(create_bucket=False)
    repository = S3RepositoryBackend.from_config(config)
    assert not repository.is_initialised
    with pytest.raises(ConfigurationError, match=rf"s3://{config['bucket']}/.*does not exist and create_bucket is off"):
        repository.initialise()
    repository.erase()  # nothing to erase: no error
    s3_server.client().create_bucket(Bucket=config["bucket"])
    repository.initialise()
    assert repository.is_initialised and repository.uuid


def test_erase_refuses_keys_it_did_not_write_unless_forced(s3_repository, s3_server):
    client, bucket = s3_server.client(), s3_repository._bucket
    s3_repository.put_object_from_filelike(io.BytesIO(b"ours"))
    client.put_object(Bucket=bucket, Key="someone-else/report.pdf", Body=b"theirs")
    with pytest.raises(ConfigurationError, match=r"refusing to erase.*someone-else/report.pdf.*force=True"):
        s3_repository.erase()
    assert s3_repository.is_initialised and len(list(s3_repository.list_objects())) == 1
    s3_repository.erase(force=True)
    assert not s3_repository.is_initialised
    assert bucket not in [b["Name"] for b in client.list_buckets()["Buckets"]]  # initialise had created it


def test_erase_in_a_shared_bucket_leaves_the_bucket_and_the_others(s3_config, s3_server):
    bucket = s3_config()["bucket"]
    client = s3_server.client()
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="other-team/data.csv", Body=b"1,2")
    repository = S3RepositoryBackend.from_config(s3_config(bucket=bucket, prefix="provstore/"))
    repository.initialise()
    repository.put_object_from_filelike(io.BytesIO(b"ours"))
    repository.erase()  # nothing foreign under its prefix
    assert [entry["Key"] for entry in client.list_objects_v2(Bucket=bucket)["Contents"]] == ["other-team/data.csv"]


def test_listing_plugins_does_not_import_boto3():
    import subprocess
    import sys

    code = (
        "import sys; from provstore.plugins import get_plugin_manager; "
        "rows = get_plugin_manager().list_backends('repository'); "
        "assert any(row.name == 'core.s3' and row.status == 'ok' for row in rows), rows; "
        "print(sorted(name for name in sys.modules if name.split('.')[0] in ('boto3', 'botocore', 's3transfer')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"
