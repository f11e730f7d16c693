"""Move a whole store between storage backends: resumable, streaming in batches, verified at the end."""

from provstore.transfer.engine import MARKER_KEY, transfer_storage
from provstore.transfer.report import EntityReport, TransferReport

__all__ = ["MARKER_KEY", "EntityReport", "TransferReport", "transfer_storage"]
