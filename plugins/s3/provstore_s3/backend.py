"""The ``core.s3`` repository: objects in an S3-compatible bucket, keyed by the sha256 of their content.

Layout under the configured prefix (``<prefix>/`` or the bucket root):

- ``provstore-repository.json``: the repository's identity (uuid, key format, whether initialise created
  the bucket). Its presence is what makes the repository initialised.
- ``objects/<sha256>``: one object per distinct content. The keys are those diskobjectstore gives the same
  bytes, so identical content is stored once and a transfer between the two copies only what is missing.
- ``staging/<uuid4>``: uploads of streams that cannot be rewound, while their hash is not yet known.

An object becomes visible under ``objects/<sha256>`` only once it is complete:

- up to ``multipart_threshold`` bytes the content is read (hashed on the way) and sent in one ``PutObject``
  to its final key, with its SHA-256 for the server to check; a single PUT is atomic;
- a larger *seekable* stream (a file) is hashed in a first pass, skipped if the bucket already holds it, and
  then sent as a multipart upload to its final key, hashed again on the way; the upload is completed only
  if the second hash equals the first (else it is aborted), and an incomplete multipart upload is invisible;
- a larger stream that cannot be rewound is sent as a multipart upload to a staging key, hashed while it is
  uploaded; once complete it is copied server-side to ``objects/<sha256>`` and the staging key is deleted.

A write killed half-way leaves at most an incomplete multipart upload or a staging object, never an object
under its key; :meth:`S3RepositoryBackend.maintain` removes such leftovers. Memory per write is bounded by
one part (``part_size``) whatever the object size; reads stream from the response body, with no temporary
file. Requests for many keys (``has_objects``, ``iter_object_streams``, batch writes) run on a pool of at
most ``max_concurrency`` threads, each with its own pooled connection.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import datetime
import hashlib
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, BinaryIO, Literal, TypeVar

import boto3
import pydantic
from provstore.exceptions import ConfigurationError, CorruptStorage, StorageError, ValidationError
from provstore.iterables import batched
from provstore.repository.abstract import CHUNK_SIZE, AbstractRepositoryBackend, validate_key
from provstore.repository.streams import RawReader
from provstore.text import plural
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from provstore_s3.errors import error_code, is_not_found, translate

__all__ = ["S3RepositoryBackend"]

HASH_TYPE = "sha256"
MiB = 1024 * 1024
MIN_PART_SIZE = 5 * MiB
"""S3 refuses multipart parts smaller than this (except the last one)."""
MAX_COPY_SIZE = 5 * 1024 * MiB
"""Largest object a single ``CopyObject`` may copy; larger ones are copied part by part."""
DELETE_BATCH = 1000
"""Keys one ``DeleteObjects`` request may name."""
REPORT_ITEMS = 1000
"""Entries a maintenance report lists per operation (the count is always complete)."""

MARKER = "provstore-repository.json"
OBJECTS = "objects/"
STAGING = "staging/"
_SHA256 = re.compile(r"[0-9a-f]{64}")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]")
_FOUR_KINDS = ("objects", "staging", "marker", "foreign")

T = TypeVar("T")
R = TypeVar("R")


def _secret(value: SecretStr | str | None) -> str | None:
    """Return the clear text of a secret setting (given as ``SecretStr`` by ``from_config``, or as a string)."""
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def _fill_part(buffer: bytearray, handle: BinaryIO, digest: Any) -> int:
    """Fill ``buffer`` from ``handle`` (hashing what is read) and return the byte count, short only at the end."""
    view = memoryview(buffer)
    filled = 0
    readinto = getattr(handle, "readinto", None)
    while filled < len(buffer):
        if readinto is not None:
            count = readinto(view[filled : filled + CHUNK_SIZE])
            if not count:
                break
        else:
            chunk = handle.read(min(CHUNK_SIZE, len(buffer) - filled))
            if not chunk:
                break
            count = len(chunk)
            view[filled : filled + count] = chunk
        digest.update(view[filled : filled + count])
        filled += count
    view.release()
    return filled


def _read_start(handle: BinaryIO, limit: int, digest: Any) -> bytearray:
    """Read up to ``limit`` bytes of ``handle`` in reads of at most ``CHUNK_SIZE``, hashing them on the way.

    The bytes go into one growing buffer (no list of chunks to join: that would hold them twice).
    """
    buffer = bytearray()
    while len(buffer) < limit:
        chunk = handle.read(min(CHUNK_SIZE, limit - len(buffer)))
        if not chunk:
            break
        digest.update(chunk)
        buffer += chunk
    return buffer


def _start_position(handle: BinaryIO) -> int | None:
    """Return the current position of ``handle`` if it can be rewound to it, else None."""
    try:
        return handle.tell() if handle.seekable() else None
    except (AttributeError, OSError, ValueError):
        return None


class _BodyStream(RawReader):
    """A read-only stream over the body of a ``GetObject`` response; connection failures become provstore errors."""

    def __init__(self, body: Any, on_error: Callable[[BaseException], BaseException]) -> None:
        self._body = body
        self._on_error = on_error

    def read(self, size: int | None = -1) -> bytes:
        if self.closed:
            raise ValueError("read from a closed object stream")
        try:
            return self._body.read(None if size is None or size < 0 else size)
        except Exception as exc:
            raise self._on_error(exc) from None

    def close(self) -> None:
        if not self.closed:
            with contextlib.suppress(Exception):
                self._body.close()
        super().close()


class S3RepositoryBackend(AbstractRepositoryBackend):
    """Repository in an S3-compatible bucket (under an optional prefix); objects are keyed by sha256."""

    class Configuration(BaseModel):
        """Where the bucket is, how to authenticate, and how large and how many the requests are."""

        model_config = ConfigDict(extra="forbid")

        bucket: str = Field(description="Name of the bucket holding the objects (created by initialise if allowed).")
        endpoint_url: str | None = Field(
            default=None, description="URL of the S3 API, e.g. https://minio.example.org:9000 (default: AWS)."
        )
        prefix: str = Field(default="", description="Folder inside the bucket for this repository (default: root).")
        region: str | None = Field(default=None, description="Region of the bucket (default: from the AWS sources).")
        access_key_id: SecretStr | None = Field(
            default=None, description="Access key id (default: the standard AWS sources: environment, ~/.aws, role)."
        )
        secret_access_key: SecretStr | None = Field(default=None, description="Secret access key of access_key_id.")
        session_token: SecretStr | None = Field(default=None, description="Session token of temporary credentials.")
        aws_profile: str | None = Field(default=None, description="Named profile of ~/.aws/config to take them from.")
        create_bucket: bool = Field(default=True, description="Let initialise create the bucket when it is missing.")
        addressing_style: Literal["auto", "path", "virtual"] = Field(
            default="auto", description="How the bucket appears in URLs (path style for most self-hosted servers)."
        )
        multipart_threshold: int = Field(
            default=8 * MiB, ge=MIN_PART_SIZE, description="Objects larger than this many bytes use multipart uploads."
        )
        part_size: int = Field(
            default=8 * MiB, ge=MIN_PART_SIZE, le=5 * 1024 * MiB, description="Bytes per multipart part."
        )
        max_concurrency: int = Field(
            default=8, ge=1, le=64, description="Requests in flight at once for batch operations (threads)."
        )
        max_attempts: int = Field(
            default=5, ge=1, le=20, description="Tries per request on throttling or a dropped connection (backoff)."
        )
        connect_timeout: float = Field(default=10.0, gt=0, description="Seconds to wait for a connection.")
        read_timeout: float = Field(default=60.0, gt=0, description="Seconds to wait for data on a connection.")
        stale_upload_age: int = Field(
            default=86400,
            ge=0,
            description="Seconds after which live maintenance treats an unfinished upload as abandoned.",
        )

        @pydantic.field_validator("bucket")
        @classmethod
        def _bucket_name(cls, value: str) -> str:
            if not _BUCKET.fullmatch(value) or ".." in value:
                raise ValueError("must be 3 to 63 lowercase letters, digits, dots or hyphens")
            return value

        @pydantic.field_validator("prefix")
        @classmethod
        def _prefix(cls, value: str) -> str:
            value = value.strip("/")
            if value and any(part in ("", ".", "..") for part in value.split("/")):
                raise ValueError("must be a path of non-empty folder names, without '.' or '..'")
            return value

        @pydantic.field_validator("endpoint_url")
        @classmethod
        def _endpoint(cls, value: str | None) -> str | None:
            if value is not None and not re.match(r"https?://[^/\s]+", value):
                raise ValueError("must be an http:// or https:// URL")
            return value

        @pydantic.model_validator(mode="after")
        def _key_pair(self) -> S3RepositoryBackend.Configuration:
            if (self.access_key_id is None) != (self.secret_access_key is None):
                raise ValueError("give access_key_id and secret_access_key together, or neither")
            return self

    list_page_size: int = 1000
    """Keys per listing request (S3 returns at most 1,000)."""

    def __init__(
        self,
        bucket: str,
        endpoint_url: str | None = None,
        prefix: str = "",
        region: str | None = None,
        access_key_id: SecretStr | str | None = None,
        secret_access_key: SecretStr | str | None = None,
        session_token: SecretStr | str | None = None,
        aws_profile: str | None = None,
        create_bucket: bool = True,
        addressing_style: str = "auto",
        multipart_threshold: int = 8 * MiB,
        part_size: int = 8 * MiB,
        max_concurrency: int = 8,
        max_attempts: int = 5,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        stale_upload_age: int = 86400,
    ) -> None:
        """Remember the settings; no request is made before the repository is first used."""
        self._bucket = bucket
        self._endpoint_url = endpoint_url
        self._prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        self._region = region
        self._credentials = {
            "aws_access_key_id": _secret(access_key_id),
            "aws_secret_access_key": _secret(secret_access_key),
            "aws_session_token": _secret(session_token),
        }
        self._aws_profile = aws_profile
        self._create_bucket = create_bucket
        self._addressing_style = addressing_style
        self._multipart_threshold = multipart_threshold
        self._part_size = part_size
        self._max_concurrency = max_concurrency
        self._max_attempts = max_attempts
        self._timeouts = (connect_timeout, read_timeout)
        self._stale_upload_age = stale_upload_age
        self._s3: Any = None  # a botocore S3 client
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._marker: dict[str, Any] | None = None
        self._location = f"S3 repository s3://{bucket}/{self._prefix} at {endpoint_url or 'AWS'}"
        """How errors name this repository (bucket, prefix and endpoint; never credentials)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} s3://{self._bucket}/{self._prefix} endpoint={self._endpoint_url!r}>"

    @property
    def where(self) -> str:
        """Return how errors name this repository: the profile if known, bucket, prefix and endpoint (no secret)."""
        return f"profile {self.profile_name!r}: {self._location}" if self.profile_name else self._location

    # ----------------------------------------------------------------------------- requests
    @property
    def client(self) -> Any:
        """Return the boto3 S3 client (thread-safe, created on first use) for tools that need the whole S3 API."""
        if self._s3 is None:
            with self._lock:
                if self._s3 is None:
                    from botocore.config import Config

                    try:
                        session = boto3.session.Session(
                            region_name=self._region, profile_name=self._aws_profile, **self._credentials
                        )
                    except Exception as exc:
                        raise self._error(exc, "open a session") from None
                    config = Config(
                        max_pool_connections=2 * self._max_concurrency + 4,
                        retries={"max_attempts": self._max_attempts, "mode": "standard"},
                        connect_timeout=self._timeouts[0],
                        read_timeout=self._timeouts[1],
                        s3={"addressing_style": self._addressing_style},
                    )
                    region = session.region_name or ("us-east-1" if self._endpoint_url else None)
                    self._s3 = session.client("s3", endpoint_url=self._endpoint_url, region_name=region, config=config)
        return self._s3

    def _error(self, exc: BaseException, action: str) -> BaseException:
        """Return the one-line provstore error for a failed request (see :func:`provstore_s3.errors.translate`)."""
        return translate(exc, self.where, action, self._max_attempts)

    def _call(self, action: str, operation: str, **params: Any) -> Any:
        """Call client method ``operation`` on the bucket; failures become one-line provstore errors."""
        try:
            return getattr(self.client, operation)(Bucket=self._bucket, **params)
        except Exception as exc:
            raise self._error(exc, action) from None

    def _head(self, name: str) -> dict[str, Any] | None:
        """Return the metadata of the bucket key ``name``, or None if there is no such key."""
        try:
            return self.client.head_object(Bucket=self._bucket, Key=name)
        except Exception as exc:
            if is_not_found(exc):
                return None
            raise self._error(exc, f"look up {name}") from None

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(self._max_concurrency, thread_name_prefix="provstore-s3")
        return self._pool

    def _bounded_map(self, function: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        """Yield ``function(item)`` in the order of ``items``, with at most ``2 * max_concurrency`` calls pending."""
        if self._max_concurrency == 1:
            yield from map(function, items)
            return
        pool = self._executor()
        window: collections.deque[Future[R]] = collections.deque()
        try:
            for item in items:
                window.append(pool.submit(function, item))
                if len(window) >= 2 * self._max_concurrency:
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()
        finally:
            for future in window:
                future.cancel()

    def _pages(self, action: str, operation: str, field: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Yield the ``field`` entries of every page of the listing ``operation`` (a failure names ``action``)."""
        paginator = self.client.get_paginator(operation)
        try:
            for page in paginator.paginate(Bucket=self._bucket, **params):
                yield from page.get(field, ())
        except Exception as exc:
            raise self._error(exc, action) from None

    def _list(self, prefix: str) -> Iterator[dict[str, Any]]:
        """Yield the listing entries (``Key``, ``Size``, ``LastModified``) of the keys under ``prefix``, by page."""
        pages = {"PageSize": self.list_page_size}
        return self._pages(
            "list the objects", "list_objects_v2", "Contents", Prefix=self._prefix + prefix, PaginationConfig=pages
        )

    def _multipart_uploads(self) -> Iterator[dict[str, Any]]:
        """Yield every unfinished multipart upload under the prefix (``Key``, ``UploadId``, ``Initiated``)."""
        return self._pages("list the unfinished uploads", "list_multipart_uploads", "Uploads", Prefix=self._prefix)

    # ----------------------------------------------------------------- identity and lifecycle
    def _read_marker(self) -> dict[str, Any] | None:
        """Return the repository's identity document, or None if the repository (or its bucket) does not exist."""
        if self._marker is not None:
            return self._marker
        try:
            body = self.client.get_object(Bucket=self._bucket, Key=self._prefix + MARKER)["Body"].read()
        except Exception as exc:
            if is_not_found(exc) or error_code(exc) == "NoSuchBucket":
                return None
            raise self._error(exc, "read the repository identity") from None
        try:
            marker = json.loads(body)
            if not isinstance(marker, dict) or not isinstance(marker.get("uuid"), str):
                raise ValueError(marker)
        except ValueError:
            raise CorruptStorage(f"{self.where}: {MARKER} is not a provstore repository identity") from None
        self._marker = marker
        return marker

    @property
    def uuid(self) -> str | None:
        """Return the repository's uuid (kept in its identity document), or None if it is not initialised."""
        marker = self._read_marker()
        return marker["uuid"] if marker is not None else None

    @property
    def key_format(self) -> str:
        """Return ``"sha256"``: objects are keyed by the SHA-256 of their content."""
        return HASH_TYPE

    @property
    def is_initialised(self) -> bool:
        """Return whether the bucket holds this repository's identity document under the prefix."""
        return self._read_marker() is not None

    def initialise(self, **kwargs: Any) -> None:
        """Create the bucket if it is missing and allowed, then the repository's identity, unless it exists.

        :raises ValidationError: for any setting passed (this backend takes its settings from the configuration).
        :raises ConfigurationError: the bucket is missing and ``create_bucket`` is off.
        """
        if kwargs:
            raise ValidationError(f"unknown initialisation settings: {', '.join(sorted(kwargs))}")
        if self.is_initialised:
            return
        created = self._ensure_bucket()
        marker = {"uuid": uuid.uuid4().hex, "key_format": HASH_TYPE, "layout": 1, "created_bucket": created}
        try:
            self._call(
                "write the repository identity",
                "put_object",
                Key=self._prefix + MARKER,
                Body=json.dumps(marker).encode(),
                ContentType="application/json",
            )
        except BaseException:
            if created:  # no half-made repository: the empty bucket made just now goes too (best effort)
                with contextlib.suppress(Exception):
                    self.client.delete_bucket(Bucket=self._bucket)
            raise
        self._marker = marker

    def _bucket_exists(self) -> bool:
        """Return whether the bucket exists (and these credentials may see it)."""
        try:
            self.client.head_bucket(Bucket=self._bucket)
            return True
        except Exception as exc:
            if error_code(exc) in ("404", "NoSuchBucket"):
                return False
            raise self._error(exc, "check the bucket") from None

    def _ensure_bucket(self) -> bool:
        """Create the bucket unless it exists; return whether it was created here."""
        if self._bucket_exists():
            return False
        if not self._create_bucket:
            raise ConfigurationError(
                f"{self.where}: the bucket does not exist and create_bucket is off; create it or allow creating it"
            )
        params: dict[str, Any] = {}
        if self.client.meta.region_name not in (None, "us-east-1"):
            params["CreateBucketConfiguration"] = {"LocationConstraint": self.client.meta.region_name}
        try:
            self.client.create_bucket(Bucket=self._bucket, **params)
        except Exception as exc:
            if error_code(exc) == "BucketAlreadyOwnedByYou":
                return False
            raise self._error(exc, "create the bucket") from None
        return True

    def _kind(self, name: str) -> str:
        """Classify a bucket key under the prefix: ``objects``, ``staging``, ``marker`` or ``foreign``."""
        relative = name[len(self._prefix) :]
        if relative == MARKER:
            return "marker"
        if relative.startswith(OBJECTS) and _SHA256.fullmatch(relative[len(OBJECTS) :]):
            return "objects"
        if relative.startswith(STAGING) and len(relative) > len(STAGING):
            return "staging"
        return "foreign"

    def erase(self, force: bool = False) -> None:
        """Delete every object and unfinished upload of the repository, then the bucket if initialise created it.

        :param force: also delete keys under the prefix that this backend did not write; without it, their
            presence is an error and nothing is deleted.
        :raises ConfigurationError: the prefix holds keys this backend did not write and ``force`` is off.
        """
        marker = self._read_marker()
        if marker is None and not self._bucket_exists():
            return  # nothing to erase
        if not force:
            foreign = next((entry["Key"] for entry in self._list("") if self._kind(entry["Key"]) == "foreign"), None)
            if foreign is not None:
                raise ConfigurationError(
                    f"{self.where}: refusing to erase: it holds keys provstore did not write (such as {foreign!r}); "
                    "erase(force=True) deletes them too"
                )
        self._marker = None
        for upload in self._multipart_uploads():
            self._abort_upload(upload["Key"], upload["UploadId"])
        names = (entry["Key"] for entry in self._list("") if entry["Key"] != self._prefix + MARKER)
        for batch in batched(names, DELETE_BATCH):
            self._delete_names(batch)
        self._delete_names([self._prefix + MARKER])  # last: an interrupted erase is still recognisable
        if marker is not None and marker.get("created_bucket"):
            try:
                self.client.delete_bucket(Bucket=self._bucket)
            except Exception as exc:
                if error_code(exc) not in ("BucketNotEmpty", "NoSuchBucket"):  # others' objects stay, and so does it
                    raise self._error(exc, "delete the bucket") from None

    def close(self) -> None:
        """Stop the request threads and close the client's connections."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._s3 is not None:
            with contextlib.suppress(Exception):
                self._s3.close()
            self._s3 = None

    # ----------------------------------------------------------------------------- writing
    def write_object_stream(self, handle: BinaryIO) -> str:
        """Stream ``handle`` into the bucket (see the module docstring for how) and return its sha256 key."""
        start = _start_position(handle)
        digest = hashlib.sha256()
        start_bytes = _read_start(handle, self._multipart_threshold + 1, digest)
        if len(start_bytes) <= self._multipart_threshold:
            key = digest.hexdigest()
            self._call(
                f"write object {key}",
                "put_object",
                Key=self._prefix + OBJECTS + key,
                Body=start_bytes,
                ChecksumSHA256=base64.b64encode(digest.digest()).decode(),
            )
            return key
        if start is not None:
            del start_bytes
            while chunk := handle.read(CHUNK_SIZE):
                digest.update(chunk)
            key = digest.hexdigest()
            if self._head(self._prefix + OBJECTS + key) is not None:
                return key  # already stored: nothing to upload
            handle.seek(start)
            self._multipart_upload(self._prefix + OBJECTS + key, handle, bytearray(), expected=key)
            return key
        staging = f"{self._prefix}{STAGING}{uuid.uuid4().hex}"
        key, size = self._multipart_upload(staging, handle, start_bytes, digest=digest)
        try:
            target = self._prefix + OBJECTS + key
            if self._head(target) is None:
                self._copy(staging, target, size)
        finally:
            with contextlib.suppress(Exception):  # a leftover staging object is removed by maintain()
                self.client.delete_object(Bucket=self._bucket, Key=staging)
        return key

    def _multipart_upload(
        self,
        name: str,
        handle: BinaryIO,
        first: bytearray,
        digest: Any = None,
        expected: str | None = None,
    ) -> tuple[str, int]:
        """Upload ``first`` and then the rest of ``handle`` as the parts of a multipart upload to ``name``.

        The content is hashed on the way (continuing ``digest`` if given, which already covers ``first``);
        the upload is completed only if the hash equals ``expected`` (when given), else aborted. Any failure
        aborts the upload, so nothing appears under ``name``. ``first`` becomes the buffer of the parts and is
        emptied when it is no longer needed, so one part's worth of memory is held at a time. Returns the sha256
        and size of the content.
        """
        digest = digest if digest is not None else hashlib.sha256()
        upload_id = self._call(f"start uploading {name}", "create_multipart_upload", Key=name)["UploadId"]
        parts: list[dict[str, Any]] = []
        size = 0
        try:
            # the first part is ``first`` (already read); each later part is read into one buffer, reused and
            # sent as it is (no copy, no file-like body read in small blocks)
            buffer, filled = (first, len(first)) if first else (bytearray(self._part_size), 0)
            while True:
                if not filled:
                    filled = _fill_part(buffer, handle, digest)
                    if not filled and parts:
                        break
                if filled < len(buffer):
                    del buffer[filled:]  # the last part: shrink in place
                size += filled
                number = len(parts) + 1
                etag = self._call(
                    f"upload part {number} of {name}",
                    "upload_part",
                    Key=name,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=buffer,
                )["ETag"]
                parts.append({"ETag": etag, "PartNumber": number})
                if len(buffer) < self._part_size and number > 1:
                    break  # a short part after the first: the end of the stream
                if len(buffer) != self._part_size:
                    buffer.clear()  # free the first part (the caller's too) before the next ones' buffer is made
                    buffer = bytearray(self._part_size)
                filled = 0
            key = digest.hexdigest()
            if expected is not None and key != expected:
                raise ValidationError(f"the content of {handle!r} changed while it was being stored")
            self._complete_upload(f"complete the upload of {name}", name, upload_id, parts)
        except BaseException:
            self._abort_upload(name, upload_id)
            raise
        return key, size

    def _complete_upload(self, action: str, name: str, upload_id: str, parts: list[dict[str, Any]]) -> None:
        """Complete multipart upload ``upload_id`` of ``name`` from ``parts``: only now the object becomes visible."""
        self._call(action, "complete_multipart_upload", Key=name, UploadId=upload_id, MultipartUpload={"Parts": parts})

    def _abort_upload(self, name: str, upload_id: str) -> None:
        """Abort a multipart upload, best effort (if the server is gone, ``maintain`` removes it later)."""
        with contextlib.suppress(Exception):
            self.client.abort_multipart_upload(Bucket=self._bucket, Key=name, UploadId=upload_id)

    def _copy(self, source: str, target: str, size: int) -> None:
        """Copy bucket key ``source`` to ``target`` on the server (part by part above the 5 GiB copy limit)."""
        copy_source = {"Bucket": self._bucket, "Key": source}
        if size <= MAX_COPY_SIZE:
            self._call(f"store {target}", "copy_object", Key=target, CopySource=copy_source)
            return
        upload_id = self._call(f"start copying to {target}", "create_multipart_upload", Key=target)["UploadId"]
        parts = []
        try:
            step = max(self._part_size, 1024 * MiB)
            for number, offset in enumerate(range(0, size, step), start=1):
                result = self._call(
                    f"copy part {number} to {target}",
                    "upload_part_copy",
                    Key=target,
                    UploadId=upload_id,
                    PartNumber=number,
                    CopySource=copy_source,
                    CopySourceRange=f"bytes={offset}-{min(offset + step, size) - 1}",
                )
                parts.append({"ETag": result["CopyPartResult"]["ETag"], "PartNumber": number})
            self._complete_upload(f"complete the copy to {target}", target, upload_id, parts)
        except BaseException:
            self._abort_upload(target, upload_id)
            raise

    def put_objects_from_filelikes(self, handles: Iterable[BinaryIO]) -> list[str]:
        """Write many objects with up to ``max_concurrency`` uploads at once; keys in order, as single writes give.

        If one write fails, the others may be stored (content-addressed objects that nothing references yet,
        which ``maintain(full=True)`` of the storage reclaims).
        """
        handles = list(handles)
        for handle in handles:
            if not self.is_readable_byte_stream(handle):
                raise TypeError(f"handle {handle!r} is not a readable byte stream")
        return list(self._bounded_map(self.write_object_stream, handles))

    # ----------------------------------------------------------------------------- reading
    def has_objects(self, keys: list[str]) -> list[bool]:
        """Return, for each key in order, whether the object exists: one HEAD per distinct key, concurrently."""
        for key in keys:
            validate_key(key)
        candidates = list(dict.fromkeys(key for key in keys if _SHA256.fullmatch(key)))
        found = dict(
            zip(
                candidates,
                self._bounded_map(lambda key: self._head(self._prefix + OBJECTS + key) is not None, candidates),
                strict=True,
            )
        )
        return [found.get(key, False) for key in keys]

    def list_objects(self) -> Iterator[str]:
        """Yield the keys of all objects, in the bucket's (lexicographic) order, 1,000 per request."""
        start = len(self._prefix) + len(OBJECTS)
        for entry in self._list(OBJECTS):
            key = entry["Key"][start:]
            if _SHA256.fullmatch(key):
                yield key

    def iter_object_streams(self, keys: list[str]) -> Iterator[tuple[str, BinaryIO]]:
        """Yield ``(key, stream)`` in the order asked, requesting up to ``max_concurrency`` objects ahead.

        Each stream reads the response body as it arrives and is closed when the iterator advances.

        :raises FileNotFoundError: for a key that does not exist (after the ones before it were yielded).
        """
        keys = list(keys)
        for key in keys:
            validate_key(key)
        return self._iter_streams(keys)

    def _get(self, key: str) -> Any:
        """Return the ``GetObject`` response of object ``key`` (its body not yet read)."""
        if not _SHA256.fullmatch(key):
            raise FileNotFoundError(f"objects do not exist: {key}")
        try:
            return self.client.get_object(Bucket=self._bucket, Key=self._prefix + OBJECTS + key)
        except Exception as exc:
            if is_not_found(exc):
                raise FileNotFoundError(f"objects do not exist: {key}") from None
            raise self._error(exc, f"read object {key}") from None

    def _iter_streams(self, keys: list[str]) -> Iterator[tuple[str, BinaryIO]]:
        pool = self._executor() if self._max_concurrency > 1 and len(keys) > 1 else None
        pending: collections.deque[tuple[str, Future[Any]]] = collections.deque()
        remaining = iter(keys)

        def fill() -> None:
            while pending.__len__() < self._max_concurrency:
                key = next(remaining, None)
                if key is None:
                    return
                future: Future[Any] = Future()
                if pool is not None:
                    future = pool.submit(self._get, key)
                else:
                    try:
                        future.set_result(self._get(key))
                    except BaseException as exc:
                        future.set_exception(exc)
                pending.append((key, future))

        try:
            fill()
            while pending:
                key, future = pending.popleft()
                response = future.result()
                stream = _BodyStream(response["Body"], lambda exc, key=key: self._error(exc, f"read object {key}"))
                try:
                    yield key, stream
                finally:
                    stream.close()
                fill()
        finally:
            for _, future in pending:  # the consumer stopped early: release the connections of prefetched ones
                future.cancel()
                future.add_done_callback(_close_response)

    def get_object_hash(self, key: str) -> str:
        """Return the SHA-256 of the content: the key itself, as objects are stored under their sha256."""
        if not self.has_object(key):
            raise FileNotFoundError(f"objects do not exist: {key}")
        return key

    # ---------------------------------------------------------------------------- deleting
    def delete_objects(self, keys: list[str]) -> None:
        """Delete the objects, 1,000 per request; if any is missing, delete nothing.

        :raises FileNotFoundError: naming the keys that do not exist.
        """
        missing = [key for key, exists in zip(keys, self.has_objects(keys), strict=True) if not exists]
        if missing:
            raise FileNotFoundError(f"objects do not exist: {', '.join(missing)}")
        for batch in batched(dict.fromkeys(keys), DELETE_BATCH):
            self._delete_names([self._prefix + OBJECTS + key for key in batch])

    def _delete_names(self, names: list[str]) -> None:
        """Delete up to 1,000 bucket keys in one request; a key that fails to go is an error."""
        result = self._call(
            "delete objects", "delete_objects", Delete={"Objects": [{"Key": name} for name in names], "Quiet": True}
        )
        if errors := result.get("Errors"):
            first = errors[0]
            raise StorageError(
                f"{self.where}: could not delete {len(errors)} of {plural(len(names), 'key')}, "
                f"such as {first.get('Key')!r} ({first.get('Code')})"
            )

    # ------------------------------------------------------------------------ maintenance
    def get_info(self, detailed: bool = False, **kwargs: Any) -> dict[str, Any]:
        """Return where the repository is, and its object count and bytes (paging the listing, 1,000 per request).

        ``detailed`` adds what costs further listings: staging objects, unfinished multipart uploads, and
        keys under the prefix that provstore did not write.
        """
        counts = dict.fromkeys(_FOUR_KINDS, 0)
        sizes = dict.fromkeys(_FOUR_KINDS, 0)
        for entry in self._list(OBJECTS) if not detailed else self._list(""):
            kind = self._kind(entry["Key"])
            counts[kind] += 1
            sizes[kind] += entry.get("Size", 0)
        info: dict[str, Any] = {
            "backend": "core.s3",
            "endpoint_url": self._endpoint_url,
            "bucket": self._bucket,
            "prefix": self._prefix,
            "uuid": self.uuid,
            "hash_type": HASH_TYPE,
            "objects": {"count": counts["objects"], "bytes": sizes["objects"]},
        }
        if detailed:
            info["staging"] = {"count": counts["staging"], "bytes": sizes["staging"]}
            info["foreign_keys"] = {"count": counts["foreign"], "bytes": sizes["foreign"]}
            info["unfinished_uploads"] = sum(1 for _ in self._multipart_uploads())
            info["multipart_threshold"] = self._multipart_threshold
            info["part_size"] = self._part_size
            info["max_concurrency"] = self._max_concurrency
        return info

    def maintain(self, dry_run: bool = False, live: bool = True, verify: bool = False, **kwargs: Any) -> dict[str, Any]:
        """Remove what interrupted writes left behind and, with ``verify``, check every object's content.

        - ``unfinished_uploads``: multipart uploads never completed (a writer died or lost the server);
        - ``staging_objects``: staging copies whose move to their final key was interrupted;
        - ``verify`` (reads every object: slow) reports objects whose content is not the sha256 of their key,
          and keys under ``objects/`` that are no sha256 (deleted only by ``erase(force=True)``).

        While ``live``, only leftovers older than ``stale_upload_age`` count (a younger one may be a write in
        progress); otherwise all do. ``dry_run`` lists what would be removed and removes nothing. (The storage
        deletes objects that no node references itself, through :meth:`delete_objects`.)

        :raises ValidationError: for unknown options.
        """
        if kwargs:
            raise ValidationError(f"unknown maintenance options: {', '.join(sorted(kwargs))}")
        cutoff = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(
            seconds=self._stale_upload_age if live else 0
        )
        if not live:
            cutoff += datetime.timedelta(days=1)  # everything, whatever the clocks of client and server say
        uploads = [u for u in self._multipart_uploads() if u["Initiated"] < cutoff]
        staging = [e for e in self._list(STAGING) if e["LastModified"] < cutoff]
        if not dry_run:
            for upload in uploads:
                self._abort_upload(upload["Key"], upload["UploadId"])
            for batch in batched((entry["Key"] for entry in staging), DELETE_BATCH):
                self._delete_names(batch)
        operations: dict[str, dict[str, Any]] = {
            "unfinished_uploads": {
                "count": len(uploads),
                "items": [
                    {"key": u["Key"], "upload_id": u["UploadId"], "initiated": u["Initiated"].isoformat()}
                    for u in uploads[:REPORT_ITEMS]
                ],
                "done": not dry_run,
            },
            "staging_objects": {
                "count": len(staging),
                "bytes": sum(entry.get("Size", 0) for entry in staging),
                "items": [entry["Key"] for entry in staging[:REPORT_ITEMS]],
                "done": not dry_run,
            },
        }
        if verify:
            operations["verify"] = self._verify()
        return {"dry_run": dry_run, "live": live, "operations": operations, "skipped": {}}

    def _verify(self) -> dict[str, Any]:
        """Hash every object (streamed, ``max_concurrency`` at a time) and report those not matching their key."""
        corrupt: list[str] = []
        checked = 0
        unexpected = [entry["Key"] for entry in self._list(OBJECTS) if self._kind(entry["Key"]) == "foreign"][
            :REPORT_ITEMS
        ]
        for keys in batched(self.list_objects(), DELETE_BATCH):
            for key, stream in self.iter_object_streams(keys):
                digest = hashlib.sha256()
                while chunk := stream.read(CHUNK_SIZE):
                    digest.update(chunk)
                checked += 1
                if digest.hexdigest() != key:
                    corrupt.append(key)
        return {"checked": checked, "corrupt": corrupt[:REPORT_ITEMS], "unexpected_keys": unexpected, "done": True}


def _close_response(future: Future[Any]) -> None:
    """Close the body of a prefetched ``GetObject`` response nobody will read."""
    if future.cancelled() or future.exception() is not None:
        return
    with contextlib.suppress(Exception):
        future.result()["Body"].close()
