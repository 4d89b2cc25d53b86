"""The inbox at scale: a partial index of the open, unclaimed task rows, the set a candidate's
group tasks are probed against (PostgreSQL merge-joins it with the candidate's rows).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

UNCLAIMED = sa.text("state = 'open' AND assignee_id IS NULL")


def upgrade() -> None:
    op.create_index("ix_task_unclaimed", "task", ["id"], postgresql_where=UNCLAIMED, sqlite_where=UNCLAIMED)


def downgrade() -> None:
    op.drop_index("ix_task_unclaimed", "task")
