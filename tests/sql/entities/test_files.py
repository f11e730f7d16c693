"""Virtual files of a node: put/get/list/walk/delete through the repository, path validation, immutability."""

from __future__ import annotations

import io
import pathlib

import pytest
from provstore.exceptions import IntegrityError, ValidationError

CALC = "process.calculation.job."
DATA = "data.core.folder.Folder."


@pytest.fixture(params=["unstored", "stored"])
def node(request, storage):
    node = storage.nodes.create(node_type=CALC)
    return node.store() if request.param == "stored" else node


def test_round_trip(storage, node, tmp_path):
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
    assert storage.get_repository().get_object_content(key) == b"hello"
    assert set(metadata["o"]["dir"]["o"]) == {"c.txt", "sub"}
    if node.is_stored:
        storage.get_session().expire_all()
        assert storage.nodes.get(node.pk).repository_metadata == metadata
    else:
        node.store()
    assert storage.nodes.get(node.pk).get_object_content("dir/sub/b.bin") == b"nested"


def test_overwrite_and_delete(node, storage):
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
    assert storage.get_repository().has_object(key)  # objects stay until maintenance reclaims them


def test_object_is_written_before_the_node_refers_to_it(node, storage, monkeypatch):
    from provstore_sql.entities import SqlNode

    def fail(self, name, value):
        raise RuntimeError("database down")

    objects_before = len(list(storage.get_repository().list_objects()))
    monkeypatch.setattr(SqlNode, "save_field", fail)
    with pytest.raises(RuntimeError):
        node.put_object_from_bytes(b"orphan", "f")
    monkeypatch.undo()
    assert node.repository_metadata == {}
    # the content reached the repository first: an orphan for maintenance, never a dangling reference
    assert len(list(storage.get_repository().list_objects())) == objects_before + 1


def test_errors(node, storage):
    node.put_object_from_bytes(b"x", "dir/file")
    before = node.repository_metadata
    objects_before = sorted(storage.get_repository().list_objects())
    with pytest.raises(IsADirectoryError):
        node.put_object_from_bytes(b"y", "dir")
    with pytest.raises(NotADirectoryError):
        node.put_object_from_bytes(b"y", "dir/file/below")
    with pytest.raises(ValidationError, match="content must be bytes"):
        node.put_object_from_bytes("text", "t")
    with pytest.raises(TypeError, match="not a readable byte stream"):
        node.put_object_from_filelike(io.StringIO("text"), "t")
    # refused before anything reaches the repository
    assert sorted(storage.get_repository().list_objects()) == objects_before
    assert node.repository_metadata == before
    with pytest.raises(FileNotFoundError):
        node.get_object_content("missing")
    with pytest.raises(IsADirectoryError):
        node.get_object_content("dir")
    with pytest.raises(NotADirectoryError):
        node.list_object_names("dir/file")
    with pytest.raises(FileNotFoundError):
        node.list_object_names("nowhere")


@pytest.mark.parametrize("path", ["", "/abs", "a/../b", "..", "a//b", "a/", "./a", "a\\b", "a\nb", 5])
def test_invalid_paths(node, path):
    with pytest.raises(ValidationError):
        node.put_object_from_bytes(b"x", path)
    with pytest.raises(ValidationError):
        node.get_object_content(path)
    assert node.repository_metadata == {}


def test_stored_data_and_sealed_nodes_have_immutable_files(storage):
    data = storage.nodes.create(node_type=DATA)
    data.put_object_from_bytes(b"x", "f")
    data.store()
    with pytest.raises(IntegrityError, match="stored data node"):
        data.put_object_from_bytes(b"y", "g")
    with pytest.raises(IntegrityError, match="stored data node"):
        data.delete_object("f")
    assert data.get_object_content("f") == b"x"
    calc = storage.nodes.create(node_type=CALC).store()
    calc.put_object_from_bytes(b"log", "log.txt")
    calc.seal()
    with pytest.raises(IntegrityError, match="sealed"):
        calc.put_object_from_bytes(b"more", "log.txt")


def test_repository_metadata_is_validated(storage):
    good = {"o": {"a": {"k": "key"}, "d": {"o": {"b": {"k": "key2"}}}, "empty": {}}}
    assert storage.nodes.create(node_type=DATA, repository_metadata=good).repository_metadata == good
    for bad, message in [
        ([], "must be a dict"),
        ({"x": {}}, "may only have the key 'o'"),
        ({"o": {"a/b": {"k": "key"}}}, "invalid file name"),
        ({"o": {"a": {"k": 5}}}, "a file is exactly"),
        ({"o": {"a": {"k": "key", "extra": 1}}}, "a file is exactly"),
        ({"o": {"a": "key"}}, "entries must be dicts"),
    ]:
        with pytest.raises(ValidationError, match=message):
            storage.nodes.create(node_type=DATA, repository_metadata=bad)
