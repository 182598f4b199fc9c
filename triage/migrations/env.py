"""Alembic environment: always run programmatically by triage.store.migrate().

The caller passes an open connection in `config.attributes["connection"]`
(inside a transaction that already holds the migration lock), so the
revisions run in that transaction: a crash half-way leaves the old schema.
"""
from alembic import context

from triage.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("triage migrations run only through triage.store.open_store()")

context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
