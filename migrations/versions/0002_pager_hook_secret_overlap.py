"""pager hook secret overlap: the secret a rotation replaced, and until when it counts

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa
import itilflow.models.base

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('pager_hooks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('previous_secret', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('previous_secret_expires_at',
                                      itilflow.models.base.UTCDateTime(timezone=True),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('pager_hooks', schema=None) as batch_op:
        batch_op.drop_column('previous_secret_expires_at')
        batch_op.drop_column('previous_secret')
