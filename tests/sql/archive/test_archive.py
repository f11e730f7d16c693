"""Archives: round trips, idempotent import, and refusal of unsafe or damaged files (nothing imported)."""

from __future__ import annotations

import hashlib
import json
import zipfile

import pytest
from provstore.archive import ArchiveLimits, create_archive, import_archive, inspect_archive
from provstore.exceptions import CorruptStorage, IntegrityError, ValidationError
from provstore.storage import EntityTypes
from support.dataset import populate, snapshot


def rebuild(original, path, transform):
    """Copy the zip ``original`` to ``path``, its ``[(name, bytes)]`` members passed through ``transform``."""
    with zipfile.ZipFile(original) as archive:
        members = [(name, archive.read(name)) for name in archive.namelist()]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in transform(members):
            archive.writestr(name, data)
    return path


def assert_nothing_imported(target):
    assert target.users.count() == target.nodes.count() == target.computers.count() == 0


@pytest.mark.parametrize(
    "backend", ["core.sqlite_dos", pytest.param("core.psql_dos", marks=[pytest.mark.postgres, pytest.mark.slow])]
)
def test_round_trip(source, archive_file, open_store, backend):
    target = open_store(backend, "imported")
    report = import_archive(archive_file, target, batch_size=5)
    assert snapshot(target) == snapshot(source)
    assert report.verified and report.entities["nodes"].copied == 30
    assert target.get_global_variable("a|setting") == {"answer": 42}


def test_archive_layout_and_inspect(archive_file):
    with zipfile.ZipFile(archive_file) as archive:
        names = archive.namelist()
        objects = [name for name in names if name.startswith("repo/")]
        for name in objects:
            assert hashlib.sha256(archive.read(name)).hexdigest() == name[len("repo/") :]
    assert {"metadata.json", "db.sqlite3"} <= set(names) and len(objects) == 11
    info = inspect_archive(archive_file)
    assert (info["format"], info["format_version"], info["objects"]) == ("provstore-archive", 1, 11)
    assert info["counts"]["nodes"] == 30 and info["counts"]["links"] == 29
    assert info["members"] == len(names)


def test_import_twice_skips_what_exists(archive_file, open_store):
    target = open_store("core.sqlite_dos", "imported")
    import_archive(archive_file, target)
    again = import_archive(archive_file, target)
    assert all(counts.copied == 0 for counts in again.entities.values())
    assert again.entities["nodes"].existing == 30 and target.nodes.count() == 30


def test_import_adds_to_a_store_with_other_data(archive_file, open_store, source):
    target = open_store("core.sqlite_dos", "imported")
    user = target.bulk_insert(EntityTypes.USER, [{"email": "own@example.org"}], allow_defaults=True)[0]
    target.bulk_insert(EntityTypes.NODE, [{"uuid": "own-node", "user_id": user}], allow_defaults=True)
    import_archive(archive_file, target)
    assert target.nodes.count() == 31


def test_create_refuses_an_existing_file_or_missing_folder(source, archive_file, tmp_path):
    with pytest.raises(ValidationError, match="exists already"):
        create_archive(source, archive_file)
    with pytest.raises(ValidationError, match=r"folder .*absent does not exist"):
        create_archive(source, tmp_path / "absent" / "x.zip")
    assert [path.name for path in archive_file.parent.iterdir() if path.name.startswith(".")] == []  # no leftovers


@pytest.mark.postgres
def test_archive_of_a_postgres_store(open_store, tmp_path):
    source = open_store("core.psql_dos", "pg")
    populate(source)
    create_archive(source, tmp_path / "pg.zip", batch_size=6)
    target = open_store("core.sqlite_dos", "imported")
    import_archive(tmp_path / "pg.zip", target)
    assert snapshot(target) == snapshot(source)


def test_conflict_imports_no_row(archive_file, open_store):
    target = open_store("core.sqlite_dos", "imported")
    target.bulk_insert(EntityTypes.COMPUTER, [{"uuid": "mine", "label": "a-cluster1"}], allow_defaults=True)
    with pytest.raises(IntegrityError):
        import_archive(archive_file, target)
    assert target.users.count() == target.nodes.count() == 0 and target.computers.count() == 1


@pytest.mark.parametrize("name", ["../evil.txt", "/etc/passwd", "repo/../../x", "repo\\..\\x", "repo/ABC", "extra.txt"])
def test_zip_slip_names_are_refused(archive_file, tmp_path, open_store, name):
    bad = rebuild(archive_file, tmp_path / "bad.zip", lambda members: [*members, (name, b"payload")])
    target = open_store("core.sqlite_dos", "imported")
    with pytest.raises(ValidationError, match="forbidden name"):
        import_archive(bad, target)
    with pytest.raises(ValidationError, match="forbidden name"):
        inspect_archive(bad)
    assert_nothing_imported(target)


def test_zip_bomb_ratio_size_and_member_limits(archive_file, tmp_path, open_store):
    zeros = bytes(20 * 1024 * 1024)
    member = f"repo/{hashlib.sha256(zeros).hexdigest()}"
    bomb = rebuild(archive_file, tmp_path / "bomb.zip", lambda members: [*members, (member, zeros)])
    target = open_store("core.sqlite_dos", "imported")
    with pytest.raises(ValidationError, match=r"expands .* times, more than the limit of 100"):
        import_archive(bomb, target, limits=ArchiveLimits(max_ratio=100))
    with pytest.raises(ValidationError, match="more than the limit of 1000000 bytes"):
        import_archive(bomb, target, limits=ArchiveLimits(max_total_size=1_000_000))
    bzip = tmp_path / "bzip.zip"
    bzip.write_bytes(archive_file.read_bytes())
    with zipfile.ZipFile(bzip, "a", compression=zipfile.ZIP_BZIP2) as archive:
        archive.writestr(member, zeros)
    with pytest.raises(ValidationError, match="uses compression method 12"):
        import_archive(bzip, target)
    with pytest.raises(ValidationError, match="more than the limit of 5"):
        import_archive(archive_file, target, limits=ArchiveLimits(max_members=5))
    assert_nothing_imported(target)
    report = import_archive(bomb, target)  # deflate's ratio is within the default limit
    assert report.objects.copied == 12


def test_overlapping_members_are_refused(archive_file, tmp_path):
    """The non-recursive zip bomb: a central directory entry pointing into another member's data."""
    data = bytearray(archive_file.read_bytes())
    with zipfile.ZipFile(archive_file) as archive:
        first, second = sorted(archive.infolist(), key=lambda info: info.header_offset)[:2]
    name = second.filename.encode()
    position = data.index(b"PK\x01\x02")  # central directory entries: name at +46, local header offset at +42
    while data[position + 46 : position + 46 + len(name)] != name:
        position = data.index(b"PK\x01\x02", position + 4)
    data[position + 42 : position + 46] = (first.header_offset + 1).to_bytes(4, "little")
    bad = tmp_path / "overlap.zip"
    bad.write_bytes(bytes(data))
    with pytest.raises(CorruptStorage, match="overlap"):
        inspect_archive(bad)


@pytest.mark.parametrize("fraction", [0.3, 0.9, 0.995])
def test_truncated_archive_is_refused(archive_file, tmp_path, open_store, fraction):
    data = archive_file.read_bytes()
    bad = tmp_path / "truncated.zip"
    bad.write_bytes(data[: int(len(data) * fraction)])
    target = open_store("core.sqlite_dos", "imported")
    with pytest.raises(CorruptStorage, match="damaged or truncated"):
        import_archive(bad, target)
    assert_nothing_imported(target)


def test_object_not_matching_its_name_is_refused(archive_file, tmp_path, open_store):
    def tamper(members):
        tampered = False
        for name, data in members:
            if name.startswith("repo/") and not tampered:
                data, tampered = data + b"!", True
            yield name, data

    bad = rebuild(archive_file, tmp_path / "tampered.zip", tamper)
    target = open_store("core.sqlite_dos", "imported")
    with pytest.raises(CorruptStorage, match=r"nothing imported: .*does not match its sha256"):
        import_archive(bad, target)
    assert_nothing_imported(target)


def test_corrupt_database_member_is_refused(archive_file, tmp_path, open_store):
    replace = lambda members: [(n, b"not a database" * 100 if n == "db.sqlite3" else d) for n, d in members]  # noqa: E731
    bad = rebuild(archive_file, tmp_path / "baddb.zip", replace)
    target = open_store("core.sqlite_dos", "imported")
    with pytest.raises(CorruptStorage, match="unreadable"):
        import_archive(bad, target)
    assert_nothing_imported(target)


@pytest.mark.parametrize(
    ("metadata", "error", "match"),
    [
        (b"{not json", CorruptStorage, "not valid JSON"),
        (b"[]", CorruptStorage, "lacks fields"),
        (None, CorruptStorage, "has no metadata.json"),
        ({"format_version": 99}, ValidationError, "format version 99; this provstore reads 1"),
        ({"format": "other"}, CorruptStorage, "not a provstore archive"),
    ],
)
def test_bad_metadata_is_refused(archive_file, tmp_path, metadata, error, match):
    def replace(members):
        for name, data in members:
            if name != "metadata.json":
                yield name, data
            elif isinstance(metadata, bytes):
                yield name, metadata
            elif isinstance(metadata, dict):
                yield name, json.dumps({**json.loads(data), **metadata}).encode()

    bad = rebuild(archive_file, tmp_path / "meta.zip", replace)
    with pytest.raises(error, match=match):
        inspect_archive(bad)


def test_not_a_zip_and_missing_file(tmp_path):
    path = tmp_path / "plain.zip"
    path.write_text("hello")
    with pytest.raises(CorruptStorage, match="damaged or truncated"):
        inspect_archive(path)
    with pytest.raises(ValidationError, match="no archive file at"):
        inspect_archive(tmp_path / "absent.zip")


def test_duplicate_member_is_refused(archive_file, tmp_path):
    bad = tmp_path / "duplicate.zip"
    bad.write_bytes(archive_file.read_bytes())
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(bad, "a") as archive:
        archive.writestr("metadata.json", b"{}")
    with pytest.raises(CorruptStorage, match=r"holds member 'metadata\.json' twice"):
        inspect_archive(bad)


def test_member_larger_than_declared_is_refused(archive_file, tmp_path, open_store):
    """A member whose data expands beyond its declared size is cut there and fails its CRC check."""
    data = bytearray(archive_file.read_bytes())
    with zipfile.ZipFile(archive_file) as archive:
        info = next(info for info in archive.infolist() if info.filename.startswith("repo/") and info.file_size > 20)
    local = info.header_offset  # local header: uncompressed size at +22; central entry: at +24
    data[local + 22 : local + 26] = (10).to_bytes(4, "little")
    name = info.filename.encode()
    central = data.index(b"PK\x01\x02")
    while data[central + 46 : central + 46 + len(name)] != name:
        central = data.index(b"PK\x01\x02", central + 4)
    data[central + 24 : central + 28] = (10).to_bytes(4, "little")
    bad = tmp_path / "liar.zip"
    bad.write_bytes(bytes(data))
    target = open_store("core.sqlite_dos", "imported")
    with pytest.raises(CorruptStorage, match="damaged or truncated: Bad CRC-32"):
        import_archive(bad, target)
    assert_nothing_imported(target)


def test_failed_create_leaves_no_file(open_store, tmp_path):
    sandbox = {"backend": "core.sandbox", "config": {"key_format": "sha256"}}
    source = open_store("core.sqlite_temp", "corrupt", repository=sandbox)
    populate(source)
    repository = source.get_repository()
    (repository.folder / "objects" / next(iter(repository.list_objects()))).write_bytes(b"bit rot")
    folder = tmp_path / "out"
    folder.mkdir()
    with pytest.raises(CorruptStorage, match="its content is corrupt"):
        create_archive(source, folder / "x.zip")
    assert list(folder.iterdir()) == []
