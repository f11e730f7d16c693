"""Reusable behavioural tests of a repository backend, written against the public abstract API only.

Subclass :class:`RepositoryBackendTests` in a plugin's test suite and set ``backend``; the ``repository``
fixture of the ``provstore`` pytest plugin builds an initialised, empty instance with ``from_config``
(override ``repository_config`` for settings other than paths). Capability attributes, not backend names,
decide which tests apply.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import tracemalloc
from typing import Any, ClassVar

import pytest

from provstore.exceptions import ConfigurationError, ValidationError
from provstore.repository import AbstractRepositoryBackend
from provstore.testing.storage import requires

__all__ = ["PatternStream", "RepositoryBackendTests"]

MiB = 1024 * 1024
UNSAFE_KEYS = ["../x", "..", ".", "/etc/passwd", "a/b", "a\\b", "a\x00b", "", "x" * 256, "line\nbreak"]


class PatternStream(io.RawIOBase):
    """A readable byte stream of ``size`` pseudo-random bytes made on the fly, never held in memory at once.

    It records the SHA-256 of what it served and the largest read requested, so a test can check that a
    backend stored the right bytes and read the stream in bounded chunks.
    """

    def __init__(self, size: int, seed: int = 0) -> None:
        self._remaining = size
        self._block = random.Random(seed).randbytes(MiB)
        self._position = 0
        self.served = hashlib.sha256()
        self.largest_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        self.largest_read = max(self.largest_read, len(view))
        count = min(len(view), self._remaining, MiB - self._position % MiB)
        start = self._position % MiB
        view[:count] = self._block[start : start + count]
        self.served.update(view[:count])
        self._position += count
        self._remaining -= count
        return count


def _put(repository: AbstractRepositoryBackend, content: bytes) -> str:
    """Store ``content`` with a single write and return its key."""
    return repository.put_object_from_filelike(io.BytesIO(content))


class RepositoryBackendTests:
    """Behaviour every repository backend must have; set ``backend`` and the capability flags in a subclass."""

    backend: ClassVar[str | None] = None
    content_addressed: ClassVar[bool] = True
    """Keys are the SHA-256 hex digest of the content (identical content gives one object)."""
    has_uuid: ClassVar[bool] = True
    """The repository has a persistent unique identifier (``uuid`` is a string, not None)."""

    # ------------------------------------------------------------------------------- identity
    def test_is_initialised_and_empty(self, repository: AbstractRepositoryBackend) -> None:
        assert repository.is_initialised
        assert list(repository.list_objects()) == []
        repository.initialise()  # initialising again is harmless
        assert repository.is_initialised

    def test_key_format(self, repository: AbstractRepositoryBackend) -> None:
        assert isinstance(repository.key_format, str) and repository.key_format

    @requires("content_addressed")
    def test_key_format_is_sha256(self, repository: AbstractRepositoryBackend) -> None:
        assert repository.key_format == "sha256"

    def test_uuid_type(self, repository: AbstractRepositoryBackend) -> None:
        assert repository.uuid is None or isinstance(repository.uuid, str)

    @requires("has_uuid")
    def test_uuid_is_stable(self, repository: AbstractRepositoryBackend) -> None:
        assert isinstance(repository.uuid, str) and repository.uuid
        _put(repository, b"content")
        assert repository.uuid == repository.uuid

    def test_from_config_rejects_unknown_setting(self, repository: AbstractRepositoryBackend) -> None:
        with pytest.raises(ConfigurationError, match="no_such_setting"):
            type(repository).from_config({"no_such_setting": 1})

    # -------------------------------------------------------------------------------- writing
    def test_put_and_read_back(self, repository: AbstractRepositoryBackend) -> None:
        key = _put(repository, b"hello world")
        assert isinstance(key, str) and key
        assert repository.has_object(key)
        assert repository.get_object_content(key) == b"hello world"
        with repository.open(key) as handle:
            assert handle.read() == b"hello world"
        assert list(repository.list_objects()) == [key]

    def test_put_object_from_file(self, repository: AbstractRepositoryBackend, tmp_path: Any) -> None:
        path = tmp_path / "source.bin"
        path.write_bytes(b"\x00\x01binary\xff")
        key = repository.put_object_from_file(path)
        assert repository.get_object_content(key) == b"\x00\x01binary\xff"

    def test_empty_object(self, repository: AbstractRepositoryBackend) -> None:
        key = _put(repository, b"")
        assert repository.has_object(key)
        assert repository.get_object_content(key) == b""
        assert repository.get_object_hash(key) == hashlib.sha256(b"").hexdigest()

    def test_distinct_content_gives_distinct_keys(self, repository: AbstractRepositoryBackend) -> None:
        keys = [_put(repository, f"object {index}".encode()) for index in range(5)]
        assert len(set(keys)) == 5
        assert sorted(repository.list_objects()) == sorted(keys)

    @requires("content_addressed")
    def test_identical_content_stored_once(self, repository: AbstractRepositoryBackend) -> None:
        first, second = _put(repository, b"same"), _put(repository, b"same")
        assert first == second == hashlib.sha256(b"same").hexdigest()
        assert list(repository.list_objects()) == [first]

    def test_failed_write_leaves_nothing(self, repository: AbstractRepositoryBackend) -> None:
        class Failing(io.RawIOBase):
            def readable(self) -> bool:
                return True

            def readinto(self, buffer: Any) -> int:
                raise OSError("disk on fire")

        with pytest.raises(OSError, match="disk on fire"):
            repository.put_object_from_filelike(Failing())
        assert list(repository.list_objects()) == []

    @pytest.mark.parametrize(
        "handle",
        [io.StringIO("text"), "a string", b"raw bytes", 42, None],
        ids=["StringIO", "str", "bytes", "int", "None"],
    )
    def test_put_rejects_non_byte_streams(self, repository: AbstractRepositoryBackend, handle: Any) -> None:
        with pytest.raises(TypeError):
            repository.put_object_from_filelike(handle)
        with pytest.raises(TypeError):
            repository.put_objects_from_filelikes([io.BytesIO(b"ok"), handle])
        assert list(repository.list_objects()) == []

    def test_put_rejects_text_and_write_only_files(self, repository: AbstractRepositoryBackend, tmp_path: Any) -> None:
        path = tmp_path / "file.txt"
        path.write_text("text")
        with open(path, encoding="utf8") as text_handle, pytest.raises(TypeError):
            repository.put_object_from_filelike(text_handle)  # type: ignore[arg-type]
        with open(tmp_path / "out.bin", "wb") as write_only, pytest.raises(TypeError):
            repository.put_object_from_filelike(write_only)
        closed = io.BytesIO(b"closed")
        closed.close()
        with pytest.raises(TypeError):
            repository.put_object_from_filelike(closed)

    # ------------------------------------------------------------------------------ batch API
    def test_batch_write(self, repository: AbstractRepositoryBackend) -> None:
        contents = [f"batch object {index}".encode() * (index + 1) for index in range(50)]
        keys = repository.put_objects_from_filelikes(io.BytesIO(content) for content in contents)
        assert len(keys) == len(contents)
        assert [repository.get_object_content(key) for key in keys] == contents
        assert repository.put_objects_from_filelikes([]) == []

    @requires("content_addressed")
    def test_batch_keys_equal_single_write_keys(self, repository: AbstractRepositoryBackend) -> None:
        single = [_put(repository, content) for content in (b"a", b"b")]
        batch = repository.put_objects_from_filelikes([io.BytesIO(b"a"), io.BytesIO(b"b"), io.BytesIO(b"c")])
        assert batch[:2] == single
        assert batch[2] == hashlib.sha256(b"c").hexdigest()
        assert sorted(repository.list_objects()) == sorted({*single, batch[2]})

    # -------------------------------------------------------------------------------- reading
    def test_has_objects_keeps_order(self, repository: AbstractRepositoryBackend) -> None:
        present = _put(repository, b"present")
        absent = hashlib.sha256(b"absent").hexdigest()
        assert repository.has_objects([absent, present, "unknown-key", present]) == [False, True, False, True]

    def test_iter_object_streams(self, repository: AbstractRepositoryBackend) -> None:
        contents = {_put(repository, f"stream {index}".encode()): f"stream {index}".encode() for index in range(20)}
        seen = {key: stream.read() for key, stream in repository.iter_object_streams(list(contents))}
        assert seen == contents

    def test_get_object_hash_is_sha256_of_content(self, repository: AbstractRepositoryBackend) -> None:
        content = b"hash me" * 1000
        key = _put(repository, content)
        assert repository.get_object_hash(key) == hashlib.sha256(content).hexdigest()

    @pytest.mark.parametrize("missing", [hashlib.sha256(b"never stored").hexdigest(), "never-stored"])
    def test_missing_key(self, repository: AbstractRepositoryBackend, missing: str) -> None:
        _put(repository, b"something else")
        assert not repository.has_object(missing)
        with pytest.raises(FileNotFoundError):
            repository.get_object_content(missing)
        with pytest.raises(FileNotFoundError), repository.open(missing):
            pass
        with pytest.raises(FileNotFoundError):
            repository.get_object_hash(missing)
        with pytest.raises(FileNotFoundError):
            dict(repository.iter_object_streams([missing]))
        with pytest.raises(FileNotFoundError):
            repository.delete_object(missing)

    @pytest.mark.parametrize("key", UNSAFE_KEYS, ids=repr)
    def test_unsafe_keys_are_rejected(self, repository: AbstractRepositoryBackend, key: str) -> None:
        with pytest.raises(ValidationError):
            repository.has_object(key)
        with pytest.raises(ValidationError):
            repository.get_object_content(key)
        with pytest.raises(ValidationError):
            repository.get_object_hash(key)
        with pytest.raises(ValidationError):
            repository.delete_objects([key])
        with pytest.raises(ValidationError):
            dict(repository.iter_object_streams([key]))

    # ------------------------------------------------------------------------------- deleting
    def test_delete_objects(self, repository: AbstractRepositoryBackend) -> None:
        keep, *gone = (_put(repository, f"delete {index}".encode()) for index in range(4))
        repository.delete_objects(gone[:2])
        repository.delete_object(gone[2])
        assert repository.has_objects([keep, *gone]) == [True, False, False, False]
        assert list(repository.list_objects()) == [keep]

    def test_delete_with_a_missing_key_deletes_nothing(self, repository: AbstractRepositoryBackend) -> None:
        present = [_put(repository, b"one"), _put(repository, b"two")]
        missing = hashlib.sha256(b"not here").hexdigest()
        with pytest.raises(FileNotFoundError, match=missing):
            repository.delete_objects([present[0], missing, present[1]])
        assert repository.has_objects(present) == [True, True]

    # ----------------------------------------------------------------------- large objects
    def test_large_object_streams_with_bounded_memory(self, repository: AbstractRepositoryBackend) -> None:
        size = 64 * MiB
        stream = PatternStream(size, seed=7)
        tracemalloc.start()
        try:
            key = repository.put_object_from_filelike(stream)  # type: ignore[arg-type]
            write_peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.reset_peak()
            digest, read = hashlib.sha256(), 0
            with repository.open(key) as handle:
                while chunk := handle.read(MiB):
                    digest.update(chunk)
                    read += len(chunk)
            read_peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert 0 < stream.largest_read <= 16 * MiB, "the handle must be read in bounded chunks"
        assert write_peak < 16 * MiB, f"writing 64 MiB peaked at {write_peak / MiB:.1f} MiB of Python memory"
        assert read_peak < 16 * MiB, f"reading 64 MiB peaked at {read_peak / MiB:.1f} MiB of Python memory"
        assert read == size
        assert digest.hexdigest() == stream.served.hexdigest() == repository.get_object_hash(key)

    # ----------------------------------------------------------------------------- maintenance
    def test_get_info(self, repository: AbstractRepositoryBackend) -> None:
        _put(repository, b"info")
        basic, detailed = repository.get_info(), repository.get_info(detailed=True)
        assert isinstance(basic, dict) and basic
        assert set(basic) <= set(detailed)
        json.dumps(detailed)  # reports are plain data, printable by the CLI

    @pytest.mark.parametrize("live", [True, False], ids=["live", "offline"])
    def test_maintain_dry_run_changes_nothing(self, repository: AbstractRepositoryBackend, live: bool) -> None:
        keys = [_put(repository, f"maintain {index}".encode()) for index in range(10)]
        before = repository.get_info(detailed=True)
        report = repository.maintain(dry_run=True, live=live)
        assert isinstance(report, dict)
        json.dumps(report)
        assert repository.get_info(detailed=True) == before
        assert sorted(repository.list_objects()) == sorted(keys)

    @pytest.mark.parametrize("live", [True, False], ids=["live", "offline"])
    def test_maintain_keeps_content(self, repository: AbstractRepositoryBackend, live: bool) -> None:
        contents = {_put(repository, f"kept {index}".encode()): f"kept {index}".encode() for index in range(10)}
        repository.delete_object(_put(repository, b"deleted before maintenance"))
        repository.maintain(live=live)
        assert {key: repository.get_object_content(key) for key in repository.list_objects()} == contents

    def test_erase(self, repository: AbstractRepositoryBackend) -> None:
        _put(repository, b"erase me")
        repository.erase()
        assert not repository.is_initialised
        repository.initialise()
        assert repository.is_initialised
        assert list(repository.list_objects()) == []
