"""The SQL layer shared by every SQL storage backend (SQLAlchemy 2.x): models, migrations, entities, queries."""
