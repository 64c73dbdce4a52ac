"""Alembic environment: run against the connection teichaku hands over (see core/store.py)."""

from alembic import context

from core.store import Base

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
