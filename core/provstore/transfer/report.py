"""What a transfer did: rows and objects per kind (in the source, copied, already present), bytes, seconds."""

from __future__ import annotations

from dataclasses import dataclass, field

from provstore.text import format_size

__all__ = ["EntityReport", "TransferReport"]


@dataclass
class EntityReport:
    """Counts of one entity kind: how many the source holds, how many were copied, how many the target had."""

    source: int = 0
    copied: int = 0
    existing: int = 0


@dataclass
class TransferReport:
    """The outcome of :func:`provstore.transfer.transfer_storage`, printed as the summary of the CLI."""

    source: str
    target: str
    mode: str
    """``fresh`` (empty target), ``resumed`` (target holds an earlier run from this source) or ``merged``."""
    entities: dict[str, EntityReport] = field(default_factory=dict)
    objects: EntityReport = field(default_factory=EntityReport)
    bytes_copied: int = 0
    key_conversion: str | None = None
    """``"uuid4 -> sha256"`` when the repositories' key formats differ (keys were recomputed), else None."""
    verified: bool = False
    seconds: float = 0.0

    def summary_lines(self) -> list[str]:
        """Return the human-readable summary: one aligned line per entity kind, then objects and totals."""
        rows = [(name, counts) for name, counts in self.entities.items()] + [("objects", self.objects)]
        width = max(len(name) for name, _ in rows)
        lines = [f"Transferred {self.source} -> {self.target} ({self.mode}):"]
        lines.append(f"  {'':<{width}}  {'source':>10}  {'copied':>10}  {'existing':>10}")
        lines += [f"  {name:<{width}}  {c.source:>10}  {c.copied:>10}  {c.existing:>10}" for name, c in rows]
        if self.key_conversion:
            lines.append(f"  repository keys recomputed: {self.key_conversion}")
        lines.append(f"  copied: {format_size(self.bytes_copied)} ({self.bytes_copied:,} bytes)")
        lines.append(f"  verification: {'passed (counts and sha256 of every object)' if self.verified else 'skipped'}")
        lines.append(f"  seconds: {self.seconds:.1f}")
        return lines
