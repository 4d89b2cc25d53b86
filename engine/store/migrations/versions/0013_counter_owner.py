"""A number counter belongs to the procedure that first used it.

Revision ID: 0013
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("number_sequence", sa.Column("process_key", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("number_sequence") as batch:
        batch.drop_column("process_key")
