"""Objects are written from byte streams and files, atomically; anything but a readable byte stream is refused."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import pytest

from provstore.repository import AbstractRepositoryBackend
from provstore.testing.capabilities import requires
from provstore.testing.repository.base import RepositoryTests, put

__all__ = ["WritingTests"]

UNSAFE_KEYS = ["../x", "..", ".", "/etc/passwd", "a/b", "a\\b", "a\x00b", "", "x" * 256, "line\nbreak"]


class WritingTests(RepositoryTests):
    """Objects are written from byte streams and files, atomically; anything but a readable byte stream is refused."""

    def test_put_and_read_back(self, provstore_repository: AbstractRepositoryBackend) -> None:
        key = put(provstore_repository, b"hello world")
        assert isinstance(key, str) and key
        assert provstore_repository.has_object(key)
        assert provstore_repository.get_object_content(key) == b"hello world"
        with provstore_repository.open(key) as handle:
            assert handle.read() == b"hello world"
        assert list(provstore_repository.list_objects()) == [key]

    def test_put_object_from_file(self, provstore_repository: AbstractRepositoryBackend, tmp_path: Any) -> None:
        path = tmp_path / "source.bin"
        path.write_bytes(b"\x00\x01binary\xff")
        key = provstore_repository.put_object_from_file(path)
        assert provstore_repository.get_object_content(key) == b"\x00\x01binary\xff"

    def test_empty_object(self, provstore_repository: AbstractRepositoryBackend) -> None:
        key = put(provstore_repository, b"")
        assert provstore_repository.has_object(key)
        assert provstore_repository.get_object_content(key) == b""
        assert provstore_repository.get_object_hash(key) == hashlib.sha256(b"").hexdigest()

    def test_distinct_content_gives_distinct_keys(self, provstore_repository: AbstractRepositoryBackend) -> None:
        keys = [put(provstore_repository, f"object {index}".encode()) for index in range(5)]
        assert len(set(keys)) == 5
        assert sorted(provstore_repository.list_objects()) == sorted(keys)

    @requires("content_addressed")
    def test_identical_content_stored_once(self, provstore_repository: AbstractRepositoryBackend) -> None:
        first, second = put(provstore_repository, b"same"), put(provstore_repository, b"same")
        assert first == second == hashlib.sha256(b"same").hexdigest()
        assert list(provstore_repository.list_objects()) == [first]

    def test_failed_write_leaves_nothing(self, provstore_repository: AbstractRepositoryBackend) -> None:
        class Failing(io.RawIOBase):
            def readable(self) -> bool:
                return True

            def readinto(self, buffer: Any) -> int:
                raise OSError("disk on fire")

        with pytest.raises(OSError, match="disk on fire"):
            provstore_repository.put_object_from_filelike(Failing())
        assert list(provstore_repository.list_objects()) == []

    @pytest.mark.parametrize(
        "handle",
        [io.StringIO("text"), "a string", b"raw bytes", 42, None],
        ids=["StringIO", "str", "bytes", "int", "None"],
    )
    def test_put_rejects_non_byte_streams(self, provstore_repository: AbstractRepositoryBackend, handle: Any) -> None:
        with pytest.raises(TypeError):
            provstore_repository.put_object_from_filelike(handle)
        with pytest.raises(TypeError):
            provstore_repository.put_objects_from_filelikes([io.BytesIO(b"ok"), handle])
        assert list(provstore_repository.list_objects()) == []

    def test_put_rejects_text_and_write_only_files(
        self, provstore_repository: AbstractRepositoryBackend, tmp_path: Any
    ) -> None:
        path = tmp_path / "file.txt"
        path.write_text("text")
        with open(path, encoding="utf8") as text_handle, pytest.raises(TypeError):
            provstore_repository.put_object_from_filelike(text_handle)  # type: ignore[arg-type]
        with open(tmp_path / "out.bin", "wb") as write_only, pytest.raises(TypeError):
            provstore_repository.put_object_from_filelike(write_only)
        closed = io.BytesIO(b"closed")
        closed.close()
        with pytest.raises(TypeError):
            provstore_repository.put_object_from_filelike(closed)
