"""Column types as the migrations write them, apart from engine/store/models.py: a revision describes the
schema as it was when it was written, so editing the models never changes an old migration.

A type here is frozen once a revision uses it: a later schema change gets a new type, never an edit.
"""

import sqlalchemy as sa

# BigInteger ids on PostgreSQL, INTEGER PRIMARY KEY (rowid) on SQLite.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# The DDL of models.Timestamp (aware UTC datetimes): TIMESTAMP WITH TIME ZONE on PostgreSQL. Its
# bind/result conversions only matter to the ORM, which the migrations do not use.
Timestamp = sa.DateTime(timezone=True)
