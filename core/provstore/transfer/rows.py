"""Copy the rows of each entity kind from one storage to another, batch by batch, remapping primary keys.

Rows are read with the query API (``iterall``) and written with ``bulk_insert``. Each batch is
matched against the target first, by the entity's natural identity (users by email, computers,
groups, nodes, comments and logs by uuid, authinfos by (user, computer), links by
(input, output, label, type), group memberships by (group, node)), and only rows the target lacks
are inserted: re-running after an interruption therefore never duplicates anything. Kinds the target
held none of when the run started are not matched (a run never inserts a row twice), which makes a
fresh transfer a faithful copy at the speed of plain inserts. The kinds the engine names ``exclusive``
(an atomic run into a fresh target: the transfer's to fill) each go in with one
``bulk_insert(..., exclusive_load=True)`` call fed batch by batch, so the backend may drop and rebuild
the indexes under exclusive locks (see the backend's ``bulk_insert``). The maps from
source to target primary keys of users, computers, groups and nodes are kept in memory (a few
dozen bytes per row) because links, memberships, comments and logs refer to them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from provstore.exceptions import CorruptStorage, IntegrityError
from provstore.iterables import batched
from provstore.storage.abstract import StorageBackend
from provstore.storage.entity_types import EntityTypes
from provstore.transfer.objects import ObjectCopier
from provstore.transfer.report import EntityReport

__all__ = ["IDENTIFIED", "RowCopier"]


@dataclass(frozen=True)
class Identified:
    """An entity kind with a unique identity column, and the foreign keys to remap (column → referenced kind)."""

    name: str
    entity_type: EntityTypes
    identity: str
    references: dict[str, str] = field(default_factory=dict)
    unique: tuple[str, ...] = ()
    """Further columns unique together in the target (a label): a row of another identity may hold them already."""


IDENTIFIED: tuple[Identified, ...] = (
    Identified("user", EntityTypes.USER, "email"),
    Identified("computer", EntityTypes.COMPUTER, "uuid", unique=("label",)),
    Identified("group", EntityTypes.GROUP, "uuid", {"user_id": "user"}, unique=("label", "type_string")),
    Identified("node", EntityTypes.NODE, "uuid", {"user_id": "user", "dbcomputer_id": "computer"}),
    Identified("comment", EntityTypes.COMMENT, "uuid", {"dbnode_id": "node", "user_id": "user"}),
    Identified("log", EntityTypes.LOG, "uuid", {"dbnode_id": "node"}),
)
"""Kinds matched by a unique column, in an order where every referenced kind comes first."""

_MAPPED = ("user", "computer", "group", "node")
"""Kinds whose primary keys other rows refer to, so their source → target map is kept."""


class RowCopier:
    """Copies every row of ``source`` into ``target``, recording counts in ``reports`` (one per kind)."""

    def __init__(
        self,
        source: StorageBackend,
        target: StorageBackend,
        objects: ObjectCopier,
        batch_size: int,
        progress: Callable[[str, int], Any],
        unmatched: set[str],
        exclusive: frozenset[str] = frozenset(),
    ) -> None:
        """Prepare to copy; ``unmatched`` names the kinds the target held no row of when the run started.

        ``exclusive`` names the kinds (of ``unmatched``) loaded in one ``exclusive_load`` call each: only on
        a target the transfer owns (no other process needs those tables while the run lasts).
        """
        self.source = source
        self.target = target
        self.objects = objects
        self.batch_size = batch_size
        self.progress = progress
        self.unmatched = unmatched
        self.exclusive = exclusive & unmatched
        self.pk_maps: dict[str, dict[int, int]] = {name: {} for name in _MAPPED}
        self.reports: dict[str, EntityReport] = {}

    # ---------------------------------------------------------------------------------- counting
    @staticmethod
    def count(storage: StorageBackend, kind: str) -> int:
        """Return how many rows of ``kind`` (an entity name, ``link`` or ``group_node``) ``storage`` holds."""
        query = storage.query()
        if kind == "link":
            query.append("node", tag="in").append("node", tag="out", with_incoming="in", link_project="id")
        elif kind == "group_node":
            query.append("group", tag="g", project="id").append("node", with_group="g", project="id")
        else:
            query.append(kind, project="id")
        return query.count()

    # ----------------------------------------------------------------------------------- copying
    def copy_all(self) -> None:
        """Copy every kind, referenced kinds first."""
        for spec in IDENTIFIED[:4]:
            self.copy_identified(spec)
            if spec.name == "computer":
                self.copy_authinfos()
        self.copy_links()
        self.copy_group_nodes()
        for spec in IDENTIFIED[4:]:
            self.copy_identified(spec)

    def _report(self, kind: str) -> EntityReport:
        report = self.reports[kind] = EntityReport(source=self.count(self.source, kind))
        return report

    def _source_rows(self, name: str) -> Iterator[list[dict[str, Any]]]:
        query = self.source.query().append(name, project="*").order_by({name: ["id"]})
        return batched(query.iterall(self.batch_size, flat=True), self.batch_size)

    def _remap(self, row: dict[str, Any], references: dict[str, str]) -> dict[str, Any]:
        """Return ``row`` without its ``id`` and with its foreign keys pointing at the target's rows."""
        row = dict(row)
        row.pop("id", None)
        for column, kind in references.items():
            value = row[column]
            if value is None:
                continue
            try:
                row[column] = self.pk_maps[kind][value]
            except KeyError:
                raise CorruptStorage(f"source {kind} {value} referenced by {column} does not exist") from None
        return row

    def copy_identified(self, spec: Identified) -> None:
        """Copy the rows of a kind with an identity column, skipping those whose identity the target has."""
        report = self._report(spec.name)
        pk_map = self.pk_maps.get(spec.name)
        with self.progress(f"{spec.name}s", report.source) as advance:
            if spec.name in self.exclusive:
                self._load_identified(spec, report, pk_map, advance)
                return
            for batch in self._source_rows(spec.name):
                rows = [self._remap(row, spec.references) for row in batch]
                if spec.name == "node":
                    self._rewrite_repository_metadata(rows)
                identities = [row[spec.identity] for row in rows]
                with self.target.transaction():
                    existing = {}
                    if spec.name not in self.unmatched:
                        found = self.target.query().append(
                            spec.name, filters={spec.identity: {"in": identities}}, project=[spec.identity, "id"]
                        )
                        existing = dict(found.all())
                    new = [row for row in rows if row[spec.identity] not in existing]
                    if spec.unique and new and spec.name not in self.unmatched:
                        self._refuse_taken_labels(spec, new)
                    pks = self.target.bulk_insert(spec.entity_type, new)
                existing.update(zip((row[spec.identity] for row in new), pks, strict=True))
                if pk_map is not None:
                    pk_map.update((row["id"], existing[row[spec.identity]]) for row in batch)
                report.copied += len(new)
                report.existing += len(rows) - len(new)
                advance(len(batch))

    def _refuse_taken_labels(self, spec: Identified, new: list[dict[str, Any]]) -> None:
        """Raise one line naming the label, instead of the database's constraint error, if the target has it.

        :raises IntegrityError: a row about to be inserted has the unique columns of another target row.
        """
        labels = sorted({row[spec.unique[0]] for row in new})
        found = self.target.query().append(
            spec.name, filters={spec.unique[0]: {"in": labels}}, project=[*spec.unique, spec.identity]
        )
        taken = {tuple(row[:-1]): row[-1] for row in found.all()}
        for row in new:
            other = taken.get(tuple(row[column] for column in spec.unique))
            if other is None:
                continue
            kind = f" of type {row['type_string']!r}" if "type_string" in spec.unique else ""
            raise IntegrityError(
                f"{spec.name} label {row[spec.unique[0]]!r}{kind} is taken in the target by another {spec.name} "
                f"(uuid {other}, not {row[spec.identity]}): rename or delete one of the two {spec.name}s, then run "
                "the command again"
            )

    def _load_identified(
        self, spec: Identified, report: EntityReport, pk_map: dict[int, int] | None, advance: Callable[[int], Any]
    ) -> None:
        """Insert every row of an ``exclusive`` kind with one ``exclusive_load`` call; nothing is matched."""
        source_pks: list[int] = []

        def rows() -> Iterator[dict[str, Any]]:
            for batch in self._source_rows(spec.name):
                remapped = [self._remap(row, spec.references) for row in batch]
                if spec.name == "node":
                    self._rewrite_repository_metadata(remapped)
                source_pks.extend(row["id"] for row in batch)
                yield from remapped
                report.copied += len(batch)
                advance(len(batch))

        pks = self.target.bulk_insert(spec.entity_type, rows(), exclusive_load=True)
        if pk_map is not None:
            pk_map.update(zip(source_pks, pks, strict=True))

    def _rewrite_repository_metadata(self, rows: list[dict[str, Any]]) -> None:
        """Point the nodes' virtual files at the target's keys, checking the target holds every object."""
        keys: dict[str, str] = {}  # target key -> uuid of a node referring to it
        for row in rows:
            row["repository_metadata"] = self._rewrite_tree(row.get("repository_metadata") or {}, row["uuid"], keys)
        if not keys:
            return
        present = self.objects.target.has_objects(list(keys))
        for (key, uuid), ok in zip(keys.items(), present, strict=True):
            if not ok:
                raise CorruptStorage(f"node {uuid} refers to repository object {key} that the source lacks")

    def _rewrite_tree(self, tree: dict[str, Any], uuid: str, keys: dict[str, str]) -> dict[str, Any]:
        result = dict(tree)
        if "k" in tree:
            key = self.objects.target_key(tree["k"])
            if key is None:
                raise CorruptStorage(f"node {uuid} refers to repository object {tree['k']} that the source lacks")
            result["k"] = key
            keys.setdefault(key, uuid)
        if isinstance(tree.get("o"), dict):
            result["o"] = {name: self._rewrite_tree(child, uuid, keys) for name, child in tree["o"].items()}
        return result

    # -------------------------------------------------------------------- rows without identity
    def copy_authinfos(self) -> None:
        """Copy authorisation infos, matched by (user, computer)."""

        def existing(rows: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
            computers = sorted({row["dbcomputer_id"] for row in rows})
            query = self.target.query().append(
                "authinfo", filters={"dbcomputer_id": {"in": computers}}, project=["aiidauser_id", "dbcomputer_id"]
            )
            return set(query.all())

        batches = (
            [self._remap(row, {"aiidauser_id": "user", "dbcomputer_id": "computer"}) for row in batch]
            for batch in self._source_rows("authinfo")
        )
        self._copy_by_tuple("authinfo", EntityTypes.AUTHINFO, batches, ("aiidauser_id", "dbcomputer_id"), existing)

    def copy_links(self) -> None:
        """Copy links, matched by (input, output, label, type)."""
        columns = ("input_id", "output_id", "label", "type")
        source = self.source.query().append("node", tag="in")
        source.append("node", tag="out", with_incoming="in", link_project=list(columns))

        def existing(rows: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
            outputs = sorted({row["output_id"] for row in rows})
            query = self.target.query().append("node", tag="out", filters={"id": {"in": outputs}})
            query.append("node", tag="in", with_outgoing="out", link_project=list(columns))
            return set(query.all())

        batches = self._remapped(source, columns, {"input_id": "node", "output_id": "node"})
        self._copy_by_tuple("link", EntityTypes.LINK, batches, columns, existing)

    def copy_group_nodes(self) -> None:
        """Copy group memberships, matched by (group, node)."""
        columns = ("dbgroup_id", "dbnode_id")
        source = self.source.query().append("group", tag="g", project="id").append("node", with_group="g", project="id")

        def existing(rows: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
            group_pks = sorted({row["dbgroup_id"] for row in rows})
            node_pks = sorted({row["dbnode_id"] for row in rows})
            query = self.target.query().append("group", tag="g", filters={"id": {"in": group_pks}}, project="id")
            query.append("node", with_group="g", filters={"id": {"in": node_pks}}, project="id")
            return set(query.all())

        batches = self._remapped(source, columns, {"dbgroup_id": "group", "dbnode_id": "node"})
        self._copy_by_tuple("group_node", EntityTypes.GROUP_NODE, batches, columns, existing)

    def _remapped(
        self, query: Any, columns: tuple[str, ...], references: dict[str, str]
    ) -> Iterator[list[dict[str, Any]]]:
        """Yield batches of the query's rows (tuples of ``columns``) as dicts with remapped foreign keys."""
        for batch in batched(query.iterall(self.batch_size), self.batch_size):
            yield [self._remap(dict(zip(columns, row, strict=True)), references) for row in batch]

    def _copy_by_tuple(
        self,
        kind: str,
        entity_type: EntityTypes,
        batches: Iterator[list[dict[str, Any]]],
        identity: tuple[str, ...],
        existing: Callable[[list[dict[str, Any]]], set[tuple[Any, ...]]],
    ) -> None:
        """Insert each batch's rows whose ``identity`` tuple the target (or an earlier row) does not have yet."""
        report = self._report(kind)
        with self.progress(f"{kind}s", report.source) as advance:
            if kind in self.exclusive:

                def rows() -> Iterator[dict[str, Any]]:
                    for batch in batches:
                        yield from batch
                        report.copied += len(batch)
                        advance(len(batch))

                self.target.bulk_insert(entity_type, rows(), exclusive_load=True)
                return
            for rows in batches:
                with self.target.transaction():
                    new = rows if kind in self.unmatched else self._missing(rows, identity, existing(rows))
                    self.target.bulk_insert(entity_type, new)
                report.copied += len(new)
                report.existing += len(rows) - len(new)
                advance(len(rows))

    @staticmethod
    def _missing(
        rows: list[dict[str, Any]], identity: tuple[str, ...], seen: set[tuple[Any, ...]]
    ) -> list[dict[str, Any]]:
        """Return the rows whose ``identity`` tuple is not in ``seen`` (nor in an earlier row)."""
        new = []
        for row in rows:
            key = tuple(row[column] for column in identity)
            if key not in seen:
                seen.add(key)
                new.append(row)
        return new
