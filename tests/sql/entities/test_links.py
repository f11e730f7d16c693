"""Links: every rule of SCHEMA.md, cycle detection, and that a refused link writes nothing."""

from __future__ import annotations

import pytest
from provstore.exceptions import ValidationError
from provstore.storage import LinkTriple, LinkType
from provstore_sql.models import DbLink

DATA = "data.core.int.Int."
CALC = "process.calculation.job."
WORK = "process.workflow.work."


@pytest.fixture
def make(storage):
    """Return a function storing a new node of the given type."""
    return lambda node_type: storage.nodes.create(node_type=node_type).store()


def link_count(storage):
    return storage.get_session().query(DbLink).count()


def refused(storage, target, source, link_type, label, message):
    """Assert that the link is refused with ``message`` and that no link was written."""
    before = link_count(storage)
    with pytest.raises(ValidationError, match=message):
        target.add_incoming(source, link_type, label)
    assert link_count(storage) == before


def test_valid_provenance(storage, make):
    data, calc, work, result = make(DATA), make(CALC), make(WORK), make(DATA)
    work.add_incoming(data, LinkType.INPUT_WORK, "x")
    calc.add_incoming(work, LinkType.CALL_CALC, "step")
    calc.add_incoming(data, "input_calc", "x")  # plain strings work too
    result.add_incoming(calc, LinkType.CREATE, "result")
    result.add_incoming(work, LinkType.RETURN, "result")
    result.add_incoming(work, LinkType.RETURN, "alias")  # a workflow may return a node under two labels
    data.add_incoming(work, LinkType.RETURN, "passthrough")  # ... or return its own input

    assert calc.get_incoming() == [
        LinkTriple(work, LinkType.CALL_CALC, "step"),
        LinkTriple(data, LinkType.INPUT_CALC, "x"),
    ]
    assert calc.get_incoming(link_type="input_calc") == [LinkTriple(data, LinkType.INPUT_CALC, "x")]
    assert result.get_incoming(link_label="alias") == [LinkTriple(work, LinkType.RETURN, "alias")]
    assert [triple.link_label for triple in work.get_outgoing(link_type=LinkType.RETURN)] == [
        "result",
        "alias",
        "passthrough",
    ]
    assert calc.get_outgoing() == [LinkTriple(result, LinkType.CREATE, "result")]
    assert make(DATA).get_incoming() == []
    assert storage.nodes.create(node_type=DATA).get_outgoing() == []
    with pytest.raises(ValidationError, match="unknown link type 'bogus'"):
        calc.get_incoming(link_type="bogus")


@pytest.mark.parametrize(
    ("link_type", "source_type", "target_type", "message"),
    [
        ("input_calc", CALC, CALC, "needs a data node"),
        ("input_calc", DATA, WORK, "needs a calculation node"),
        ("input_work", DATA, CALC, "needs a workflow node"),
        ("create", WORK, DATA, "needs a calculation node"),
        ("create", CALC, CALC, "needs a data node"),
        ("return", CALC, DATA, "needs a workflow node"),
        ("call_calc", WORK, WORK, "needs a calculation node"),
        ("call_work", CALC, WORK, "needs a workflow node"),
        ("input_calc", "unknown.kind.", CALC, "needs a data node"),
    ],
)
def test_node_kinds(storage, make, link_type, source_type, target_type, message):
    refused(storage, make(target_type), make(source_type), link_type, "label", message)


def test_unstored_self_and_foreign_nodes(storage, make):
    data, calc = make(DATA), make(CALC)
    refused(storage, calc, storage.nodes.create(node_type=DATA), "input_calc", "x", "source must be a stored node")
    refused(storage, storage.nodes.create(node_type=CALC), data, "input_calc", "x", "target must be a stored node")
    refused(storage, calc, "not a node", "input_calc", "x", "source must be a node, got str")
    work = make(WORK)
    refused(storage, work, work, "call_work", "self", "cannot be linked to itself")


def test_link_type_and_label_validation(storage, make):
    data, calc = make(DATA), make(CALC)
    refused(storage, calc, data, "inputs", "x", "unknown link type 'inputs'; valid types: input_calc")
    for label in ("", "1x", "has space", "a.b", "a-b", "x" * 256, None):
        refused(storage, calc, data, "input_calc", label, "invalid link label")
    calc.add_incoming(data, "input_calc", "_nested__name_1")


def test_duplicate_link(storage, make):
    data, work = make(DATA), make(WORK)
    work.add_incoming(data, "input_work", "x")
    refused(storage, work, data, "input_work", "x", "the link already exists")


def test_input_labels_unique_per_target(storage, make):
    calc = make(CALC)
    calc.add_incoming(make(DATA), "input_calc", "x")
    refused(
        storage,
        calc,
        make(DATA),
        "input_calc",
        "x",
        "already has an incoming input_calc or input_work link labelled 'x'",
    )
    calc.add_incoming(make(DATA), "input_calc", "y")  # another label is fine
    other = make(CALC)
    other.add_incoming(calc.get_incoming()[0].node, "input_calc", "x")  # the same label on another target is fine


def test_at_most_one_create(storage, make):
    data = make(DATA)
    data.add_incoming(make(CALC), "create", "result")
    refused(storage, data, make(CALC), "create", "other", "already has an incoming create link")


def test_create_labels_unique_per_calculation(storage, make):
    calc = make(CALC)
    make(DATA).add_incoming(calc, "create", "result")
    refused(storage, make(DATA), calc, "create", "result", "outgoing 'create' link labelled 'result'")


def test_return_labels_unique_per_workflow(storage, make):
    work = make(WORK)
    make(DATA).add_incoming(work, "return", "result")
    refused(storage, make(DATA), work, "return", "result", "outgoing 'return' link labelled 'result'")


@pytest.mark.parametrize("second", ["call_calc", "call_work"])
def test_at_most_one_caller(storage, make, second):
    callee = make(CALC if second == "call_calc" else WORK)
    callee.add_incoming(make(WORK), second, "first")
    refused(storage, callee, make(WORK), second, "second", "already has an incoming call_calc or call_work link")


def test_data_provenance_cycle(storage, make):
    # data1 -> calc1 -> data2 -> calc2 -> data3; data3 -> calc1 would close a cycle
    data1, calc1, data2, calc2, data3 = make(DATA), make(CALC), make(DATA), make(CALC), make(DATA)
    calc1.add_incoming(data1, "input_calc", "x")
    data2.add_incoming(calc1, "create", "y")
    calc2.add_incoming(data2, "input_calc", "x")
    data3.add_incoming(calc2, "create", "y")
    refused(storage, calc1, data3, "input_calc", "z", "would create a cycle: node .* reachable from node")
    # the short cycle too: an output of a calculation cannot be one of its inputs
    refused(storage, calc1, data2, "input_calc", "z", "would create a cycle")
    # a created node of calc1 created by calc2 downstream is refused by the single-create rule, but a
    # fresh calculation reading data3 is no cycle
    make(CALC).add_incoming(data3, "input_calc", "x")


def test_return_links_do_not_count_for_cycles(storage, make):
    data, work = make(DATA), make(WORK)
    work.add_incoming(data, "input_work", "x")
    data.add_incoming(work, "return", "same")  # workflows may return their inputs


def test_call_cycle(storage, make):
    outer, middle, inner = make(WORK), make(WORK), make(WORK)
    middle.add_incoming(outer, "call_work", "m")
    inner.add_incoming(middle, "call_work", "i")
    refused(storage, outer, inner, "call_work", "o", "would create a cycle")


def test_cycle_detection_through_a_long_chain(storage, make):
    first = previous = make(DATA)
    for index in range(30):
        calc = make(CALC)
        calc.add_incoming(previous, "input_calc", "x")
        previous = make(DATA)
        previous.add_incoming(calc, "create", f"out_{index}")
    last_calc = make(CALC)
    last_calc.add_incoming(previous, "input_calc", "x")
    refused(storage, first, last_calc, "create", "loop", "would create a cycle")


def test_refused_link_inside_transaction_keeps_the_rest(storage, make):
    data, calc = make(DATA), make(CALC)
    with storage.transaction():
        calc.add_incoming(data, "input_calc", "x")
        with pytest.raises(ValidationError):
            calc.add_incoming(data, "input_calc", "x")
    assert len(calc.get_incoming()) == 1


def test_links_of_another_storage_are_refused(storage, make):
    from provstore.plugins import get_plugin_manager

    cls = get_plugin_manager().get_storage_backend("core.sqlite_temp")
    with cls(cls.create_profile(default_user_email="other@x")) as other:
        foreign = other.nodes.create(node_type=DATA).store()
        refused(storage, make(CALC), foreign, "input_calc", "x", "different storages")


def test_concurrent_creators_cannot_both_win(storage, make):
    """Two threads adding a ``create`` link to the same data node: the rule holds, exactly one succeeds."""
    import threading

    from sqlalchemy.pool import StaticPool

    if isinstance(storage.get_session().get_bind().pool, StaticPool):
        pytest.skip("the storage shares one connection between threads: no concurrent transactions")
    data_pk, calc_pks = make(DATA).pk, [make(CALC).pk, make(CALC).pk]
    barrier = threading.Barrier(2)
    outcomes = []

    def create_link(calc_pk):
        data, calc = storage.nodes.get(data_pk), storage.nodes.get(calc_pk)
        barrier.wait()
        try:
            data.add_incoming(calc, "create", "result")
            outcomes.append("linked")
        except ValidationError:
            outcomes.append("refused")
        finally:
            storage.get_session().close()

    threads = [threading.Thread(target=create_link, args=(pk,)) for pk in calc_pks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["linked", "refused"]
    assert len(storage.nodes.get(data_pk).get_incoming()) == 1
