"""Alembic environment of provstore: always run programmatically on a connection given by the migrator.

:class:`provstore_sql.migrator.SqlMigrator` puts the open connection in ``config.attributes["connection"]``;
there is no ``alembic.ini`` and no offline (SQL script) mode.
"""

from __future__ import annotations

from alembic import context
from provstore_sql.migrator import include_object_for
from provstore_sql.tables import metadata_for

connection = context.config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    raise RuntimeError("provstore migrations run only through provstore_sql.migrator.SqlMigrator, with a connection")

context.configure(
    connection=connection,
    target_metadata=metadata_for(connection.dialect.name),
    compare_type=True,
    include_object=include_object_for(connection.dialect.name),
    # SQLite cannot ALTER most things: later revisions use batch operations (copy and move)
    render_as_batch=connection.dialect.name == "sqlite",
    transaction_per_migration=False,
)

with context.begin_transaction():
    context.run_migrations()
