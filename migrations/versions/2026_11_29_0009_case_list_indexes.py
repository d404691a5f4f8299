"""Indexes in "My cases" order: (agency | country, level, opened_at).

Revision ID: 20261129_case_list_indexes
Revises: 20261129_amendments
Create Date: 2026-11-29 04:27:35.696134

Hand-checked. Measured in docs/PERFORMANCE.md (bench/bench_cases.py).
"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "20261129_case_list_indexes"
down_revision = "20261129_amendments"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("case_file", schema=None) as batch_op:
        batch_op.create_index(
            "ix_case_file_agency_level_opened", ["owner_agency_id", "level", "opened_at"], unique=False
        )
        batch_op.create_index(
            "ix_case_file_state_level_opened", ["member_state_code", "level", "opened_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("case_file", schema=None) as batch_op:
        batch_op.drop_index("ix_case_file_state_level_opened")
        batch_op.drop_index("ix_case_file_agency_level_opened")
