"""Record a small provenance graph with files in the default profile, query it back and report it.

Run after ``provstore presto``: ``python examples/quickstart.py``. Each run records a new,
independent simulation (tagged with a run id), so it can be run any number of times.
"""

from __future__ import annotations

import io
import uuid

import provstore


def record(storage: provstore.storage.StorageBackend, run: str) -> dict[str, int]:
    """Record structure → relax calculation → energy + trajectory, inside a workflow, in one transaction."""
    nodes = storage.nodes
    with storage.transaction():
        structure = nodes.create(node_type="data.core.structure.", label="Si diamond")
        structure.set_attribute_many({"cell": [[0, 2.7, 2.7], [2.7, 0, 2.7], [2.7, 2.7, 0]], "sites": 2, "run": run})
        structure.put_object_from_bytes(b"Si 0.00 0.00 0.00\nSi 1.35 1.35 1.35\n", "structure.xyz")
        structure.store()

        parameters = nodes.create(node_type="data.core.dict.", label="relax parameters")
        parameters.set_attribute_many({"ecutwfc": 30.0, "kpoints": [4, 4, 4], "run": run})
        parameters.store()

        workflow = nodes.create(node_type="process.workflow.relax.", process_type="demo.relax", label="relax Si")
        workflow.set_attribute("run", run)
        workflow.store()

        calc = nodes.create(node_type="process.calculation.pw.", process_type="demo.pw", label="pw.x relax")
        calc.set_attribute_many({"exit_status": 0, "run": run})
        calc.store()
        calc.add_incoming(structure, "input_calc", "structure")
        calc.add_incoming(parameters, "input_calc", "parameters")
        calc.add_incoming(workflow, "call_calc", "relax_step")
        workflow.add_incoming(structure, "input_work", "structure")

        energy = nodes.create(node_type="data.core.float.", label="total energy")
        energy.set_attribute_many({"value": -15.83, "units": "eV", "run": run})
        energy.put_object_from_filelike(io.BytesIO(b"step energy\n1 -15.71\n2 -15.80\n3 -15.83\n"), "log/energies.txt")
        energy.store()
        energy.add_incoming(calc, "create", "energy")
        energy.add_incoming(workflow, "return", "energy")
        calc.seal()
        workflow.seal()

        group = storage.groups.create(label=f"quickstart {run}", type_string="demo")
        group.store()
        group.add_nodes([structure, parameters, workflow, calc, energy])
        storage.comments.create(node=energy, content="converged in 3 steps").store()
        storage.logs.create(node=calc, loggername="demo.pw", levelname="REPORT", message="relaxation finished").store()
    return {"structure": structure.pk, "calc": calc.pk, "energy": energy.pk}


def report(storage: provstore.storage.StorageBackend, run: str, pks: dict[str, int]) -> None:
    """Query the graph back: provenance of the energy, attribute filters, and the recorded files."""
    print(f"Recorded run {run} in profile {storage.profile.name!r} ({storage.profile.storage_backend})")

    ancestors = (
        storage.query().ancestors(pks["energy"], project=["id", "node_type", "label"]).order_by({"node": ["id"]})
    )
    print("\nProvenance of the total energy (ancestors):")
    for pk, node_type, label in ancestors.all():
        print(f"  {pk:>6}  {node_type:<28} {label}")

    qb = storage.query()
    qb.append("node", tag="calc", filters={"node_type": {"of_type": "process.calculation"}, "attributes.run": run})
    qb.append(
        "node",
        tag="out",
        with_incoming="calc",
        link_filters={"type": "create"},
        filters={"attributes.value": {"<": 0}},
        project=["label", "attributes.value", "attributes.units"],
    )
    print("\nOutputs created by calculations of this run with a negative value:")
    for label, value, units in qb.all():
        print(f"  {label}: {value} {units}")

    energy = storage.nodes.get(pks["energy"])
    structure = storage.nodes.get(pks["structure"])
    print("\nFiles recorded:")
    for node in (structure, energy):
        for path, content in _files(node):
            print(f"  node {node.pk} {path} ({len(content)} bytes): {content.splitlines()[-1].decode()}")

    runs = storage.query().append("group", filters={"type_string": "demo"}).count()
    print(f"\nQuickstart runs recorded in this profile so far: {runs}")


def _files(node):
    """Yield (path, content) of every file of a node, walking its virtual tree."""
    for root, _dirs, files in node.walk():
        for name in files:
            path = str(root / name)
            yield path, node.get_object_content(path)


def main() -> None:
    """Open the default profile's storage, record one run and report it."""
    run = uuid.uuid4().hex[:8]
    with provstore.open_storage() as storage:
        pks = record(storage, run)
        report(storage, run, pks)


if __name__ == "__main__":
    main()
