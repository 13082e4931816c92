"""Alembic's environment: the migrations run on the connection server/migrate.py hands over
(``config.attributes["connection"]``), against the one schema's metadata. Batch mode, so that
SQLite's ALTER TABLE limits are met by table copies (Alembic "batch migrations")."""

from alembic import context

import server.schema  # noqa: F401  (gathers every package's tables on the metadata)
from server.db import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
