"""transfer_storage: round trips between backends, resuming, key conversion, conflicts and verification."""

from __future__ import annotations

import hashlib

import pytest
from provstore.exceptions import CorruptStorage, IntegrityError, ValidationError
from provstore.storage import EntityTypes
from provstore.transfer import MARKER_KEY, transfer_storage
from support.dataset import populate, snapshot

PG = pytest.mark.postgres
PAIRS = [
    pytest.param("core.sqlite_temp", "core.sqlite_dos", id="sqlite_temp-sqlite_dos"),
    pytest.param("core.sqlite_dos", "core.sqlite_dos", id="sqlite_dos-sqlite_dos"),
    pytest.param("core.sqlite_temp", "core.psql_dos", id="sqlite_temp-psql_dos", marks=PG),
    pytest.param("core.sqlite_dos", "core.psql_dos", id="sqlite_dos-psql_dos", marks=PG),
    pytest.param("core.psql_dos", "core.sqlite_dos", id="psql_dos-sqlite_dos", marks=PG),
]
KINDS = ("users", "computers", "authinfos", "groups", "nodes", "links", "group_nodes", "comments", "logs")


@pytest.mark.parametrize(("source_backend", "target_backend"), PAIRS)
def test_round_trip_copies_everything(open_store, source_backend, target_backend):
    source, target = open_store(source_backend, "src"), open_store(target_backend, "dst")
    populate(source)
    report = transfer_storage(source, target, batch_size=7)
    assert snapshot(target) == snapshot(source)
    assert target.get_global_variable("a|setting") == {"answer": 42}
    assert target.get_global_variable(MARKER_KEY)["status"] == "complete"
    assert (report.mode, report.verified) == ("fresh", True)
    assert report.entities["nodes"].source == report.entities["nodes"].copied == 30
    assert report.entities["links"].copied == 29
    assert report.objects.copied == 11 and report.bytes_copied > 0


@pytest.mark.slow
@pytest.mark.parametrize(("source_backend", "target_backend"), PAIRS[:1] + PAIRS[3:4])
def test_running_again_copies_nothing(open_store, source_backend, target_backend):
    source, target = open_store(source_backend, "src"), open_store(target_backend, "dst")
    populate(source)
    transfer_storage(source, target, batch_size=5)
    again = transfer_storage(source, target, batch_size=5)
    assert again.mode == "resumed"
    assert all(counts.copied == 0 and counts.existing == counts.source for counts in again.entities.values())
    assert (again.objects.copied, again.objects.existing) == (0, 11)
    assert snapshot(target) == snapshot(source)


class Interrupt(Exception):
    """Raised by the patched bulk_insert to simulate a crash."""


def interrupt_bulk_insert(monkeypatch, storage, when):
    """Make ``storage.bulk_insert`` raise :class:`Interrupt` once ``when(calls)`` holds; return the calls' types."""
    original = storage.bulk_insert
    calls = []

    def failing(entity_type, rows, allow_defaults=False, **options):
        calls.append(entity_type)
        if when(calls):
            raise Interrupt
        return original(entity_type, rows, allow_defaults, **options)

    monkeypatch.setattr(storage, "bulk_insert", failing)
    return calls


@pytest.mark.parametrize("fail_after", [1, 4, 9, pytest.param(13, marks=pytest.mark.slow)])
def test_resume_after_interruption_has_no_duplicates(open_store, monkeypatch, fail_after):
    """A crash after some batches were committed: the re-run completes the copy and verification passes."""
    source, target = open_store("core.sqlite_dos", "src"), open_store("core.sqlite_dos", "dst")
    populate(source)
    calls = interrupt_bulk_insert(monkeypatch, target, lambda calls: len(calls) > fail_after)
    with pytest.raises(Interrupt):
        transfer_storage(source, target, batch_size=4)
    assert len(calls) == fail_after + 1
    monkeypatch.delattr(target, "bulk_insert")  # back to the class's method
    assert target.get_global_variable(MARKER_KEY)["status"] == "running"

    report = transfer_storage(source, target, batch_size=4)
    assert report.mode == "resumed" and report.verified
    assert sum(counts.existing for counts in report.entities.values()) > 0
    assert snapshot(target) == snapshot(source)


def test_sandbox_uuid4_keys_become_sha256(open_store):
    sandbox = {"backend": "core.sandbox", "config": {"key_format": "uuid4"}}
    source, target = open_store("core.sqlite_temp", "src", repository=sandbox), open_store("core.sqlite_dos", "dst")
    populate(source)
    report = transfer_storage(source, target, batch_size=6)
    assert report.key_conversion == "uuid4 -> sha256"
    assert snapshot(target) == snapshot(source)
    repository = target.get_repository()
    for (metadata,) in target.query().append("node", project=["repository_metadata"]).all():
        key = metadata["o"]["shared.txt"]["k"]
        assert key == hashlib.sha256(repository.get_object_content(key)).hexdigest()
    # and back into a uuid4 sandbox: the keys are new again, the content the same
    back = open_store("core.sqlite_temp", "back", repository=sandbox)
    assert transfer_storage(target, back).key_conversion == "sha256 -> uuid4"
    assert snapshot(back) == snapshot(source)


def test_refuses_a_target_holding_other_data_unless_merging(open_store):
    source, target = open_store("core.sqlite_temp", "src"), open_store("core.sqlite_dos", "dst")
    populate(source, tag="a")
    populate(target, tag="b", nodes=4)
    before = snapshot(target)
    with pytest.raises(IntegrityError, match=r"already holds data of another origin \(2 computers.*--merge"):
        transfer_storage(source, target)
    assert snapshot(target) == before

    report = transfer_storage(source, target, merge=True)
    assert report.mode == "merged"
    assert report.entities["users"].existing == 1  # shared@example.org is in both
    assert target.nodes.count() == 34
    merged = snapshot(target)
    assert merged["nodes"] == {**before["nodes"], **snapshot(source)["nodes"]}


def test_conflicting_label_is_one_clear_error(open_store):
    source, target = open_store("core.sqlite_temp", "src"), open_store("core.sqlite_dos", "dst")
    populate(source)
    target.bulk_insert(EntityTypes.COMPUTER, [{"uuid": "other", "label": "a-cluster0"}], allow_defaults=True)
    with pytest.raises(IntegrityError) as info:
        transfer_storage(source, target, merge=True)
    message = str(info.value)
    assert message.startswith("computer label 'a-cluster0' is taken in the target by another computer (uuid other")
    assert "rename or delete one of the two computers" in message and "\n" not in message


def test_corrupt_source_object_is_detected(open_store):
    sandbox = {"backend": "core.sandbox", "config": {"key_format": "sha256"}}
    source, target = open_store("core.sqlite_temp", "src", repository=sandbox), open_store("core.sqlite_dos", "dst")
    populate(source)
    repository = source.get_repository()
    key = next(iter(repository.list_objects()))
    (repository.folder / "objects" / key).write_bytes(b"bit rot")
    with pytest.raises(CorruptStorage, match=f"source object {key} has sha256"):
        transfer_storage(source, target)
    assert target.nodes.count() == 0


def test_node_referring_to_a_missing_object_is_refused(open_store):
    source, target = open_store("core.sqlite_temp", "src"), open_store("core.sqlite_dos", "dst")
    user = source.bulk_insert(EntityTypes.USER, [{"email": "x@y.z"}], allow_defaults=True)[0]
    missing = "0" * 64
    node = {"uuid": "u-1", "user_id": user, "repository_metadata": {"o": {"f": {"k": missing}}}}
    source.bulk_insert(EntityTypes.NODE, [node], allow_defaults=True)
    with pytest.raises(CorruptStorage, match=f"node u-1 refers to repository object {missing}"):
        transfer_storage(source, target)
    assert target.nodes.count() == 0


def test_atomic_failure_writes_no_rows(open_store, monkeypatch):
    source, target = open_store("core.sqlite_temp", "src"), open_store("core.sqlite_dos", "dst")
    populate(source)
    calls = interrupt_bulk_insert(monkeypatch, target, lambda calls: calls[-1] == EntityTypes.COMMENT)
    with pytest.raises(Interrupt):
        transfer_storage(source, target, atomic=True)
    assert EntityTypes.NODE in calls
    assert target.users.count() == target.nodes.count() == 0


@pytest.mark.parametrize(
    ("atomic", "fresh", "exclusive"), [(True, True, True), (False, True, False), (True, False, False)]
)
def test_only_an_atomic_run_into_a_fresh_target_loads_exclusively(open_store, monkeypatch, atomic, fresh, exclusive):
    """Load mode is asked for only where the transfer owns the target: a fresh one, written in one transaction."""
    source, target = open_store("core.sqlite_temp", "src"), open_store("core.sqlite_dos", "dst")
    populate(source)
    if not fresh:
        other = open_store("core.sqlite_temp", "other")
        other.nodes.create(node_type="data.core.Int.", label="theirs").store()
        transfer_storage(other, target)
    original, asked = target.bulk_insert, set()

    def spy(entity_type, rows, allow_defaults=False, *, exclusive_load=False):
        asked.add(exclusive_load)
        return original(entity_type, rows, allow_defaults, exclusive_load=exclusive_load)

    monkeypatch.setattr(target, "bulk_insert", spy)
    transfer_storage(source, target, batch_size=3, atomic=atomic, merge=not fresh)
    assert asked == {exclusive}
    monkeypatch.delattr(target, "bulk_insert")
    assert snapshot(target) == snapshot(source) or not fresh


def test_same_storage_and_bad_batch_size_are_refused(open_store):
    store = open_store("core.sqlite_dos", "one")
    with pytest.raises(ValidationError, match="same storage"):
        transfer_storage(store, store)
    other = open_store("core.sqlite_dos", "two")
    with pytest.raises(ValidationError, match="batch_size must be a positive integer"):
        transfer_storage(store, other, batch_size=0)


def test_progress_bars_do_not_disturb_the_result(open_store, capsys):
    source, target = open_store("core.sqlite_temp", "src"), open_store("core.sqlite_dos", "dst")
    populate(source, nodes=5)
    report = transfer_storage(source, target, progress=True)
    assert report.entities["nodes"].copied == 5
    assert "nodes" in capsys.readouterr().err
    assert report.summary_lines()[0] == "Transferred src -> dst (fresh):"
