"""The Alembic migrations produce exactly the schema the models describe (tables, columns, types,
nullability, indexes), on the database the suite runs on: a model changed without its migration, or a
migration that differs from its model, fails here instead of in production."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from engine.store.models import Base


def test_the_migrations_build_the_models_schema(own_database):
    database = own_database("schema")
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []
