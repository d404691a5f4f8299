"""Possible duplicate cases found by blind index, for the focal point to decide.

Revision ID: 20261129_duplicates
Revises: 20261129_consent
Create Date: 2026-11-29 04:03:29.308160

Hand-checked. Only which index matched is stored (name or document), never the value.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "20261129_duplicates"
down_revision = "20261129_consent"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "possible_duplicate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_state_code", sa.String(length=2), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("other_case_id", sa.String(length=36), nullable=False),
        sa.Column("matched_on", sa.String(length=20), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "linked",
                "dismissed",
                name="duplicate_status",
                native_enum=False,
                create_constraint=True,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint(
            "(status = 'open') = (decided_at IS NULL)", name=op.f("ck_possible_duplicate_decided_when_closed")
        ),
        sa.CheckConstraint("case_id <> other_case_id", name=op.f("ck_possible_duplicate_two_cases")),
        sa.ForeignKeyConstraint(["case_id"], ["case_file.id"], name=op.f("fk_possible_duplicate_case_id_case_file")),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["user_account.id"], name=op.f("fk_possible_duplicate_decided_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["member_state_code"],
            ["member_state.code"],
            name=op.f("fk_possible_duplicate_member_state_code_member_state"),
        ),
        sa.ForeignKeyConstraint(
            ["other_case_id"], ["case_file.id"], name=op.f("fk_possible_duplicate_other_case_id_case_file")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_possible_duplicate")),
    )
    with op.batch_alter_table("possible_duplicate", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_possible_duplicate_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_possible_duplicate_member_state_code"), ["member_state_code"], unique=False
        )


def downgrade():
    with op.batch_alter_table("possible_duplicate", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_possible_duplicate_member_state_code"))
        batch_op.drop_index(batch_op.f("ix_possible_duplicate_case_id"))

    op.drop_table("possible_duplicate")
