"""Initial schema: users, computers, authinfos, groups, nodes, links, comments, logs and settings.

Revision ID: e3a7c2d41f90
Revises:
Create Date: 2026-11-25

Written by hand (reviewed against autogenerate) so that it stays frozen when the models change.
PostgreSQL-only indexes (``varchar_pattern_ops`` for LIKE prefixes, GIN on the JSONB columns) are
created only on PostgreSQL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "e3a7c2d41f90"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)

# table -> columns served by a LIKE-prefix index on PostgreSQL
PATTERN_INDEXES = {
    "db_dbuser": ["email"],
    "db_dbcomputer": ["label"],
    "db_dbgroup": ["label", "type_string"],
    "db_dbnode": ["label", "node_type", "process_type"],
    "db_dblink": ["label", "type"],
    "db_dblog": ["loggername", "levelname"],
    "db_dbsetting": ["key"],
}


def _id() -> sa.Column:
    return sa.Column("id", sa.Integer(), nullable=False)


def _pk(table: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint("id", name=f"{table}_pkey")


def _uuid(table: str) -> list:
    return [sa.Column("uuid", sa.String(36), nullable=False), sa.UniqueConstraint("uuid", name=f"uq_{table}_uuid")]


def _fk(table: str, column: str, target: str, ondelete: str | None = None) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        [f"{target}.id"],
        name=f"fk_{table}_{column}_{target}",
        ondelete=ondelete,
        deferrable=True,
        initially="DEFERRED",
    )


def _index(table: str, *columns: str, unique: bool = False) -> None:
    for column in columns:
        op.create_index(f"ix_{table}_{column}", table, [column], unique=unique)


def upgrade() -> None:
    """Create every table and index of the initial schema."""
    op.create_table(
        "db_dbuser",
        _id(),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("first_name", sa.String(254), nullable=False),
        sa.Column("last_name", sa.String(254), nullable=False),
        sa.Column("institution", sa.String(254), nullable=False),
        _pk("db_dbuser"),
    )
    _index("db_dbuser", "email", unique=True)

    op.create_table(
        "db_dbcomputer",
        _id(),
        *_uuid("db_dbcomputer"),
        sa.Column("label", sa.String(255), nullable=False),
        sa.Column("hostname", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("scheduler_type", sa.String(255), nullable=False),
        sa.Column("transport_type", sa.String(255), nullable=False),
        sa.Column("metadata", JSON, nullable=False),
        _pk("db_dbcomputer"),
    )
    _index("db_dbcomputer", "label", unique=True)

    op.create_table(
        "db_dbsetting",
        _id(),
        sa.Column("key", sa.String(1024), nullable=False),
        sa.Column("val", JSON, nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("time", TIMESTAMP, nullable=False),
        _pk("db_dbsetting"),
        sa.UniqueConstraint("key", name="uq_db_dbsetting_key"),
    )

    op.create_table(
        "db_dbauthinfo",
        _id(),
        sa.Column("aiidauser_id", sa.Integer(), nullable=False),
        sa.Column("dbcomputer_id", sa.Integer(), nullable=False),
        sa.Column("metadata", JSON, nullable=False),
        sa.Column("auth_params", JSON, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        _fk("db_dbauthinfo", "aiidauser_id", "db_dbuser", "CASCADE"),
        _fk("db_dbauthinfo", "dbcomputer_id", "db_dbcomputer", "CASCADE"),
        _pk("db_dbauthinfo"),
        sa.UniqueConstraint("aiidauser_id", "dbcomputer_id", name="uq_db_dbauthinfo_aiidauser_id_dbcomputer_id"),
    )
    _index("db_dbauthinfo", "aiidauser_id", "dbcomputer_id")

    op.create_table(
        "db_dbgroup",
        _id(),
        *_uuid("db_dbgroup"),
        sa.Column("label", sa.String(255), nullable=False),
        sa.Column("type_string", sa.String(255), nullable=False),
        sa.Column("time", TIMESTAMP, nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("extras", JSON, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        _fk("db_dbgroup", "user_id", "db_dbuser", "CASCADE"),
        _pk("db_dbgroup"),
        sa.UniqueConstraint("label", "type_string", name="uq_db_dbgroup_label_type_string"),
    )
    _index("db_dbgroup", "label", "type_string", "user_id")

    op.create_table(
        "db_dbnode",
        _id(),
        *_uuid("db_dbnode"),
        sa.Column("node_type", sa.String(255), nullable=False),
        sa.Column("process_type", sa.String(255), nullable=True),
        sa.Column("label", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("ctime", TIMESTAMP, nullable=False),
        sa.Column("mtime", TIMESTAMP, nullable=False),
        sa.Column("attributes", JSON, nullable=True),
        sa.Column("extras", JSON, nullable=True),
        sa.Column("repository_metadata", JSON, nullable=False),
        sa.Column("dbcomputer_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        _fk("db_dbnode", "dbcomputer_id", "db_dbcomputer", "RESTRICT"),
        _fk("db_dbnode", "user_id", "db_dbuser", "RESTRICT"),
        _pk("db_dbnode"),
    )
    _index("db_dbnode", "ctime", "mtime", "label", "node_type", "process_type", "dbcomputer_id", "user_id")

    op.create_table(
        "db_dbcomment",
        _id(),
        *_uuid("db_dbcomment"),
        sa.Column("dbnode_id", sa.Integer(), nullable=False),
        sa.Column("ctime", TIMESTAMP, nullable=False),
        sa.Column("mtime", TIMESTAMP, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        _fk("db_dbcomment", "dbnode_id", "db_dbnode", "CASCADE"),
        _fk("db_dbcomment", "user_id", "db_dbuser", "CASCADE"),
        _pk("db_dbcomment"),
    )
    _index("db_dbcomment", "dbnode_id", "user_id")

    op.create_table(
        "db_dbgroup_dbnodes",
        _id(),
        sa.Column("dbnode_id", sa.Integer(), nullable=False),
        sa.Column("dbgroup_id", sa.Integer(), nullable=False),
        _fk("db_dbgroup_dbnodes", "dbgroup_id", "db_dbgroup", "CASCADE"),
        _fk("db_dbgroup_dbnodes", "dbnode_id", "db_dbnode", "CASCADE"),
        _pk("db_dbgroup_dbnodes"),
        sa.UniqueConstraint("dbgroup_id", "dbnode_id", name="uq_db_dbgroup_dbnodes_dbgroup_id_dbnode_id"),
    )
    _index("db_dbgroup_dbnodes", "dbgroup_id", "dbnode_id")

    op.create_table(
        "db_dblink",
        _id(),
        sa.Column("input_id", sa.Integer(), nullable=False),
        sa.Column("output_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(255), nullable=False),
        sa.Column("type", sa.String(255), nullable=False),
        _fk("db_dblink", "input_id", "db_dbnode"),
        _fk("db_dblink", "output_id", "db_dbnode", "CASCADE"),
        _pk("db_dblink"),
    )
    _index("db_dblink", "input_id", "output_id", "label", "type")

    op.create_table(
        "db_dblog",
        _id(),
        *_uuid("db_dblog"),
        sa.Column("time", TIMESTAMP, nullable=False),
        sa.Column("loggername", sa.String(255), nullable=False),
        sa.Column("levelname", sa.String(50), nullable=False),
        sa.Column("dbnode_id", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("metadata", JSON, nullable=False),
        _fk("db_dblog", "dbnode_id", "db_dbnode", "CASCADE"),
        _pk("db_dblog"),
    )
    _index("db_dblog", "dbnode_id", "loggername", "levelname")

    if op.get_context().dialect.name == "postgresql":
        for table, columns in PATTERN_INDEXES.items():
            for column in columns:
                op.create_index(
                    f"ix_pat_{table}_{column}",
                    table,
                    [column],
                    postgresql_using="btree",
                    postgresql_ops={column: "varchar_pattern_ops"},
                )
        for column in ("attributes", "extras"):
            op.create_index(
                f"ix_gin_db_dbnode_{column}",
                "db_dbnode",
                [column],
                postgresql_using="gin",
                postgresql_ops={column: "jsonb_path_ops"},
            )


def downgrade() -> None:
    """Drop every table of the initial schema."""
    for table in (
        "db_dblog",
        "db_dblink",
        "db_dbgroup_dbnodes",
        "db_dbcomment",
        "db_dbnode",
        "db_dbgroup",
        "db_dbauthinfo",
        "db_dbsetting",
        "db_dbcomputer",
        "db_dbuser",
    ):
        op.drop_table(table)
