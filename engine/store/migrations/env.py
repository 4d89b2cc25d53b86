"""Alembic environment: run programmatically by engine.store.schema with a live connection."""

from alembic import context

from engine.store.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # `alembic` command line: build one from DATABASE_URL
    from engine.store.db import make_engine

    connection = make_engine().connect()

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
