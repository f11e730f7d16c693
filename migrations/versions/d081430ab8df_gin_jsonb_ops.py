"""GIN indexes on node attributes and extras with the default ``jsonb_ops`` operator class (PostgreSQL only).

Revision ID: d081430ab8df
Revises: e3a7c2d41f90
Create Date: 2026-11-25

``jsonb_path_ops`` serves only containment (``@>``); ``jsonb_ops`` also serves key existence (``?``), so
``has_key`` filters use the index too. Measured on the benchmark's rows (~200-byte attributes), bulk inserts
cost the same with either class (docs/performance.md).
"""

from __future__ import annotations

from alembic import op

revision = "d081430ab8df"
down_revision = "e3a7c2d41f90"
branch_labels = None
depends_on = None

COLUMNS = ("attributes", "extras")


def _recreate(operator_class: str | None) -> None:
    """Replace the GIN index of each JSON column of ``db_dbnode`` by one with ``operator_class`` (None: default)."""
    if op.get_context().dialect.name != "postgresql":
        return
    for column in COLUMNS:
        name = f"ix_gin_db_dbnode_{column}"
        op.drop_index(name, table_name="db_dbnode")
        options = {"postgresql_ops": {column: operator_class}} if operator_class else {}
        op.create_index(name, "db_dbnode", [column], postgresql_using="gin", **options)


def upgrade() -> None:
    """Use ``jsonb_ops``, which also serves key existence."""
    _recreate(None)


def downgrade() -> None:
    """Go back to ``jsonb_path_ops``."""
    _recreate("jsonb_path_ops")
