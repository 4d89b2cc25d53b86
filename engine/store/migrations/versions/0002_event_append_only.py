"""The history is append-only: the database itself refuses to update or delete an event.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'event history is append-only'; END $$""")
        op.execute("""CREATE TRIGGER event_append_only BEFORE UPDATE OR DELETE ON event
                      FOR EACH ROW EXECUTE FUNCTION event_append_only()""")
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(f"""CREATE TRIGGER event_no_{action.lower()} BEFORE {action} ON event
                           BEGIN SELECT RAISE(ABORT, 'event history is append-only'); END""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER event_append_only ON event")
        op.execute("DROP FUNCTION event_append_only()")
    else:
        op.execute("DROP TRIGGER event_no_update")
        op.execute("DROP TRIGGER event_no_delete")
