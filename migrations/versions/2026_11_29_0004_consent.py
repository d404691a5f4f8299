"""Consent records (given by, date, language, scope, withdrawal).

Revision ID: 20261129_consent
Revises: 20261129_persons_cases
Create Date: 2026-11-29 03:59:40.119828

Hand-checked. What was explained and the named recipients are encrypted
(EncryptedText in the application, TEXT here); CHECK constraints keep a scope on every
consent and a recorder on every withdrawal.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "20261129_consent"
down_revision = "20261129_persons_cases"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "consent",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column(
            "given_by",
            sa.Enum(
                "person", "guardian", name="consent_given_by", native_enum=False, create_constraint=True, length=40
            ),
            nullable=False,
        ),
        sa.Column("given_on", sa.Date(), nullable=False),
        sa.Column("language", sa.String(length=3), nullable=False),
        sa.Column("assistance_referral", sa.Boolean(), nullable=False),
        sa.Column("data_sharing", sa.Boolean(), nullable=False),
        sa.Column("cross_border", sa.Boolean(), nullable=False),
        sa.Column("explained", sa.Text(), nullable=True),
        sa.Column("recipients", sa.Text(), nullable=True),
        sa.Column("recorded_by_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("withdrawn_on", sa.Date(), nullable=True),
        sa.Column("withdrawn_recorded_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "(withdrawn_on IS NULL) = (withdrawn_recorded_by_id IS NULL)", name=op.f("ck_consent_withdrawal_recorded")
        ),
        sa.CheckConstraint("assistance_referral OR data_sharing OR cross_border", name=op.f("ck_consent_has_a_scope")),
        sa.CheckConstraint(
            "withdrawn_on IS NULL OR withdrawn_on >= given_on", name=op.f("ck_consent_withdrawn_after_given")
        ),
        sa.ForeignKeyConstraint(["case_id"], ["case_file.id"], name=op.f("fk_consent_case_id_case_file")),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], name=op.f("fk_consent_person_id_person")),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["user_account.id"], name=op.f("fk_consent_recorded_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["withdrawn_recorded_by_id"],
            ["user_account.id"],
            name=op.f("fk_consent_withdrawn_recorded_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent")),
    )
    with op.batch_alter_table("consent", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consent_case_id"), ["case_id"], unique=False)


def downgrade():
    with op.batch_alter_table("consent", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_case_id"))

    op.drop_table("consent")
