"""The language each free text was written in: a referral's purpose, decline note and
services delivered, and case notes.

Revision ID: 20261129_free_text_languages
Revises: 20261129_audit_supervision
Create Date: 2026-11-29 11:20:00

Hand-checked. Nullable: texts written before are of unknown language and show no tag.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "20261129_free_text_languages"
down_revision = "20261129_audit_supervision"
branch_labels = None
depends_on = None

REFERRAL_COLUMNS = ("purpose_language", "decline_note_language", "services_delivered_language")


def upgrade():
    with op.batch_alter_table("referral", schema=None) as batch_op:
        for name in REFERRAL_COLUMNS:
            batch_op.add_column(sa.Column(name, sa.String(length=8), nullable=True))
    with op.batch_alter_table("case_note", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=8), nullable=True))


def downgrade():
    with op.batch_alter_table("case_note", schema=None) as batch_op:
        batch_op.drop_column("language")
    with op.batch_alter_table("referral", schema=None) as batch_op:
        for name in reversed(REFERRAL_COLUMNS):
            batch_op.drop_column(name)
