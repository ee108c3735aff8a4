"""ticket acknowledged_by: who acknowledged, whether or not an escalation was running

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('acknowledged_by', sa.String(length=300), nullable=True))
    # the tickets acknowledged before: the person of the last acknowledge in the history, else
    # what the escalation it stopped recorded (a pager's call)
    op.execute(
        "UPDATE tickets SET acknowledged_by = COALESCE("
        " (SELECT users.email FROM ticket_events JOIN users ON users.id = ticket_events.actor_id"
        "  WHERE ticket_events.ticket_id = tickets.id AND ticket_events.kind = 'transition'"
        "  AND ticket_events.trigger = 'acknowledge' ORDER BY ticket_events.seq DESC LIMIT 1),"
        " (SELECT escalations.acknowledged_by FROM escalations"
        "  WHERE escalations.ticket_id = tickets.id AND escalations.acknowledged_by IS NOT NULL"
        "  ORDER BY escalations.id DESC LIMIT 1))"
        " WHERE acknowledged_at IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_column('acknowledged_by')
