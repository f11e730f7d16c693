"""Objects are read back whole, streamed, hashed and looked up."""

from __future__ import annotations

import hashlib

import pytest

from provstore.repository import AbstractRepositoryBackend
from provstore.testing.repository.base import RepositoryTests, put, sha256

__all__ = ["ReadingTests"]

UNSAFE_KEYS = ["../x", "..", ".", "/etc/passwd", "a/b", "a\\b", "a\x00b", "", "x" * 256, "line\nbreak"]


class ReadingTests(RepositoryTests):
    """Objects are read back whole, streamed, hashed and looked up.

    Objects are read back whole, streamed, hashed and looked up; missing keys raise ``FileNotFoundError``;
    lookups keep the order asked.
    """

    def test_has_objects_keeps_order(self, provstore_repository: AbstractRepositoryBackend) -> None:
        present = put(provstore_repository, b"present")
        absent = hashlib.sha256(b"absent").hexdigest()
        assert provstore_repository.has_objects([absent, present, "unknown-key", present]) == [False, True, False, True]

    def test_iter_object_streams(self, provstore_repository: AbstractRepositoryBackend) -> None:
        contents = {
            put(provstore_repository, f"stream {index}".encode()): f"stream {index}".encode() for index in range(20)
        }
        seen = {key: stream.read() for key, stream in provstore_repository.iter_object_streams(list(contents))}
        assert seen == contents

    def test_get_object_hash_is_sha256_of_content(self, provstore_repository: AbstractRepositoryBackend) -> None:
        content = b"hash me" * 1000
        key = put(provstore_repository, content)
        assert provstore_repository.get_object_hash(key) == hashlib.sha256(content).hexdigest()

    @pytest.mark.parametrize("missing", [hashlib.sha256(b"never stored").hexdigest(), "never-stored"])
    def test_missing_key(self, provstore_repository: AbstractRepositoryBackend, missing: str) -> None:
        put(provstore_repository, b"something else")
        assert not provstore_repository.has_object(missing)
        with pytest.raises(FileNotFoundError):
            provstore_repository.get_object_content(missing)
        with pytest.raises(FileNotFoundError), provstore_repository.open(missing):
            pass
        with pytest.raises(FileNotFoundError):
            provstore_repository.get_object_hash(missing)
        with pytest.raises(FileNotFoundError):
            dict(provstore_repository.iter_object_streams([missing]))
        with pytest.raises(FileNotFoundError):
            provstore_repository.delete_object(missing)

    def test_has_objects_of_many_keys_in_any_order(self, provstore_repository: AbstractRepositoryBackend) -> None:
        present = [put(provstore_repository, f"object {index}".encode()) for index in range(40)]
        absent = [sha256(f"absent {index}".encode()) for index in range(40)]
        asked = [key for pair in zip(reversed(present), absent, strict=True) for key in pair]
        assert provstore_repository.has_objects(asked) == [True, False] * 40
        assert provstore_repository.has_objects(list(reversed(asked))) == [False, True] * 40

    def test_partial_reads_of_an_open_handle(self, provstore_repository: AbstractRepositoryBackend) -> None:
        content = bytes(range(256)) * 40
        key = put(provstore_repository, content)
        with provstore_repository.open(key) as handle:
            pieces = []
            while piece := handle.read(1000):
                pieces.append(piece)
        assert b"".join(pieces) == content
        assert [len(piece) for piece in pieces[:-1]] == [1000] * (len(content) // 1000)

    def test_streams_of_repeated_and_shared_content(self, provstore_repository: AbstractRepositoryBackend) -> None:
        keys = [put(provstore_repository, b"same" * 100), put(provstore_repository, b"other")]
        seen = {key: stream.read() for key, stream in provstore_repository.iter_object_streams(keys)}
        assert seen == {keys[0]: b"same" * 100, keys[1]: b"other"}
        assert provstore_repository.get_object_hash(keys[0]) == sha256(b"same" * 100)
