"""Files of nodes: the virtual file tree stored through the repository, path rules and immutability."""

from __future__ import annotations

import io
import pathlib
from pathlib import Path
from typing import Any

import pytest

from provstore.exceptions import IntegrityError, ValidationError
from provstore.storage import Node, StorageBackend
from provstore.testing.capabilities import requires
from provstore.testing.storage.base import CALC, StorageTests, each, stored_field, writes

__all__ = ["FileTests"]

FOLDER = "data.core.folder.FolderData."
INVALID_PATHS: list[Any] = ["", "/abs", "a/../b", "..", "a//b", "a/", "./a", "a\\b", "a\nb", 5]
INVALID_TREES = [
    ([], "must be a dict"),
    ({"x": {}}, "may only have the key 'o'"),
    ({"o": {"a/b": {"k": "key"}}}, "invalid file name"),
    ({"o": {"a": {"k": 5}}}, "a file is exactly"),
    ({"o": {"a": {"k": "key", "extra": 1}}}, "a file is exactly"),
    ({"o": {"a": "key"}}, "entries must be dicts"),
]


def _objects(storage: StorageBackend) -> list[str]:
    return sorted(storage.get_repository().list_objects())


@writes
@each(requires("has_repository"))
class FileTests(StorageTests):
    """A node's files live in the storage's repository and its tree in ``repository_metadata``.

    Checks: put (bytes, file-like, local file), open, read, list, walk, overwrite and delete, before and after
    store, read back from a fresh ``get``; the content reaches the repository; directories and files cannot be
    confused; invalid paths and trees are refused with ``ValidationError`` before anything reaches the
    repository; a stored data node's and a sealed process node's files are immutable.
    """

    @pytest.fixture(params=["unstored", "stored"])
    def node(self, request: pytest.FixtureRequest, provstore_storage: StorageBackend) -> Node:
        node = provstore_storage.nodes.create(node_type=CALC)
        return node.store() if request.param == "stored" else node

    def test_round_trip(self, provstore_storage: StorageBackend, node: Node, tmp_path: Path) -> None:
        source = tmp_path / "input.txt"
        source.write_bytes(b"from file")
        node.put_object_from_bytes(b"hello", "a.txt")
        node.put_object_from_filelike(io.BytesIO(b"nested"), "dir/sub/b.bin")
        node.put_object_from_file(source, pathlib.PurePosixPath("dir/c.txt"))
        assert node.get_object_content("a.txt") == b"hello"
        with node.open("dir/sub/b.bin") as handle:
            assert handle.read() == b"nested"
        assert node.get_object_content("dir/c.txt") == b"from file"
        assert node.list_object_names() == ["a.txt", "dir"]
        assert node.list_object_names("dir") == ["c.txt", "sub"]
        assert list(node.walk()) == [
            (pathlib.PurePosixPath("."), ["dir"], ["a.txt"]),
            (pathlib.PurePosixPath("dir"), ["sub"], ["c.txt"]),
            (pathlib.PurePosixPath("dir/sub"), [], ["b.bin"]),
        ]
        metadata = node.repository_metadata
        key = metadata["o"]["a.txt"]["k"]
        assert provstore_storage.get_repository().get_object_content(key) == b"hello"
        node.store()
        assert stored_field(provstore_storage, "node", node.pk, "repository_metadata") == metadata
        fresh = provstore_storage.nodes.get(node.pk)
        assert fresh.get_object_content("dir/sub/b.bin") == b"nested"
        assert fresh.list_object_names("dir") == ["c.txt", "sub"]

    def test_binary_and_empty_files(self, provstore_storage: StorageBackend, node: Node) -> None:
        content = bytes(range(256)) * 64
        node.put_object_from_bytes(content, "binary.bin")
        node.put_object_from_bytes(b"", "empty")
        node.store()
        fresh = provstore_storage.nodes.get(node.pk)
        assert fresh.get_object_content("binary.bin") == content
        assert fresh.get_object_content("empty") == b""

    def test_overwrite_and_delete(self, provstore_storage: StorageBackend, node: Node) -> None:
        node.put_object_from_bytes(b"one", "f")
        node.put_object_from_bytes(b"two", "f")
        assert node.get_object_content("f") == b"two"
        node.put_object_from_bytes(b"x", "d/e/g")
        node.delete_object("d/e/g")
        assert node.list_object_names("d") == ["e"]  # the emptied directory stays
        node.delete_object("d")
        key = node.repository_metadata["o"]["f"]["k"]
        node.delete_object("f")
        assert node.repository_metadata == {}
        with pytest.raises(FileNotFoundError):
            node.delete_object("f")
        assert provstore_storage.get_repository().has_object(key)  # objects stay until maintenance reclaims them

    def test_errors(self, provstore_storage: StorageBackend, node: Node) -> None:
        node.put_object_from_bytes(b"x", "dir/file")
        before = node.repository_metadata
        objects_before = _objects(provstore_storage)
        with pytest.raises(IsADirectoryError):
            node.put_object_from_bytes(b"y", "dir")
        with pytest.raises(NotADirectoryError):
            node.put_object_from_bytes(b"y", "dir/file/below")
        with pytest.raises(ValidationError, match="content must be bytes"):
            node.put_object_from_bytes("text", "t")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            node.put_object_from_filelike(io.StringIO("text"), "t")  # type: ignore[arg-type]
        assert _objects(provstore_storage) == objects_before  # refused before anything reaches the repository
        assert node.repository_metadata == before
        with pytest.raises(FileNotFoundError):
            node.get_object_content("missing")
        with pytest.raises(IsADirectoryError):
            node.get_object_content("dir")
        with pytest.raises(NotADirectoryError):
            node.list_object_names("dir/file")
        with pytest.raises(FileNotFoundError):
            node.list_object_names("nowhere")

    @pytest.mark.parametrize("path", INVALID_PATHS, ids=repr)
    def test_invalid_paths(self, node: Node, path: Any) -> None:
        with pytest.raises(ValidationError):
            node.put_object_from_bytes(b"x", path)
        with pytest.raises(ValidationError):
            node.get_object_content(path)
        assert node.repository_metadata == {}

    def test_stored_data_and_sealed_nodes_have_immutable_files(self, provstore_storage: StorageBackend) -> None:
        data = provstore_storage.nodes.create(node_type=FOLDER)
        data.put_object_from_bytes(b"x", "f")
        data.store()
        with pytest.raises(IntegrityError, match="stored data node"):
            data.put_object_from_bytes(b"y", "g")
        with pytest.raises(IntegrityError, match="stored data node"):
            data.delete_object("f")
        assert provstore_storage.nodes.get(data.pk).get_object_content("f") == b"x"
        calc = provstore_storage.nodes.create(node_type=CALC).store()
        calc.put_object_from_bytes(b"log", "log.txt")
        calc.seal()
        with pytest.raises(IntegrityError, match="sealed"):
            calc.put_object_from_bytes(b"more", "log.txt")
        assert provstore_storage.nodes.get(calc.pk).get_object_content("log.txt") == b"log"

    @pytest.mark.parametrize(("tree", "message"), INVALID_TREES, ids=[message for _, message in INVALID_TREES])
    def test_repository_metadata_is_validated(self, provstore_storage: StorageBackend, tree: Any, message: str) -> None:
        with pytest.raises(ValidationError, match=message):
            provstore_storage.nodes.create(node_type=FOLDER, repository_metadata=tree)

    def test_valid_repository_metadata_is_kept(self, provstore_storage: StorageBackend) -> None:
        good = {"o": {"a": {"k": "key"}, "d": {"o": {"b": {"k": "key2"}}}, "empty": {}}}
        node = provstore_storage.nodes.create(node_type=FOLDER, repository_metadata=good).store()
        assert stored_field(provstore_storage, "node", node.pk, "repository_metadata") == good
