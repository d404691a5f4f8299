"""Case notes (with visibility) and tasks (with due dates); texts encrypted.

Revision ID: 20261129_notes_tasks
Revises: 20261129_legal_clocks
Create Date: 2026-11-29 04:12:15.041246

Hand-checked.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "20261129_notes_tasks"
down_revision = "20261129_legal_clocks"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "case_note",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column(
            "visibility",
            sa.Enum(
                "agency", "shareable", name="note_visibility", native_enum=False, create_constraint=True, length=40
            ),
            nullable=False,
        ),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["user_account.id"], name=op.f("fk_case_note_author_id_user_account")),
        sa.ForeignKeyConstraint(["case_id"], ["case_file.id"], name=op.f("fk_case_note_case_id_case_file")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_note")),
    )
    with op.batch_alter_table("case_note", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_note_case_id"), ["case_id"], unique=False)

    op.create_table(
        "case_task",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case_file.id"], name=op.f("fk_case_task_case_id_case_file")),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["user_account.id"], name=op.f("fk_case_task_created_by_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_task")),
    )
    with op.batch_alter_table("case_task", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_task_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_task_due_on"), ["due_on"], unique=False)


def downgrade():
    with op.batch_alter_table("case_task", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_task_due_on"))
        batch_op.drop_index(batch_op.f("ix_case_task_case_id"))

    op.drop_table("case_task")
    with op.batch_alter_table("case_note", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_note_case_id"))

    op.drop_table("case_note")
