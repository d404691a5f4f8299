"""Amendments of submitted identifications (reason and changes, encrypted).

Revision ID: 20261129_amendments
Revises: 20261129_notes_tasks
Create Date: 2026-11-29 04:15:48.211948

Hand-checked.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "20261129_amendments"
down_revision = "20261129_notes_tasks"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "identification_amendment",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("identification_id", sa.String(length=36), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("changes", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["user_account.id"], name=op.f("fk_identification_amendment_author_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["identification_id"],
            ["identification.id"],
            name=op.f("fk_identification_amendment_identification_id_identification"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identification_amendment")),
    )
    with op.batch_alter_table("identification_amendment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identification_amendment_identification_id"), ["identification_id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("identification_amendment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identification_amendment_identification_id"))

    op.drop_table("identification_amendment")
