"""Legal clocks: per-country reflection period and decision deadline, and the
reasonable-grounds day of a case.

Revision ID: 20261129_legal_clocks
Revises: 20261129_duplicates
Create Date: 2026-11-29 04:08:00.641324

Hand-checked. Alembic does not detect CHECK constraints on existing tables: the two
below are added by hand (the reflection period is at least 30 days, CoE Convention
Art. 13).
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "20261129_legal_clocks"
down_revision = "20261129_duplicates"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("case_file", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reasonable_grounds_on", sa.Date(), nullable=True))

    with op.batch_alter_table("member_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reflection_period_days", sa.Integer(), server_default="30", nullable=False))
        batch_op.add_column(sa.Column("decision_working_days", sa.Integer(), server_default="5", nullable=False))
        batch_op.add_column(sa.Column("holiday_subdivision", sa.String(length=10), nullable=True))
        batch_op.create_check_constraint("reflection_at_least_30_days", "reflection_period_days >= 30")
        batch_op.create_check_constraint("decision_deadline_range", "decision_working_days BETWEEN 1 AND 60")


def downgrade():
    with op.batch_alter_table("member_state", schema=None) as batch_op:
        batch_op.drop_constraint("decision_deadline_range", type_="check")
        batch_op.drop_constraint("reflection_at_least_30_days", type_="check")
        batch_op.drop_column("holiday_subdivision")
        batch_op.drop_column("decision_working_days")
        batch_op.drop_column("reflection_period_days")

    with op.batch_alter_table("case_file", schema=None) as batch_op:
        batch_op.drop_column("reasonable_grounds_on")
