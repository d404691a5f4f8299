"""Indicator catalogue versions loaded by national focal points.

Revision ID: 20261129_catalogue_versions
Revises: 20261129_foundation
Create Date: 2026-11-29 03:39:21.401981

Hand-checked. A partial unique index keeps at most one active version per Member State
(both SQLite and PostgreSQL support partial indexes).
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "20261129_catalogue_versions"
down_revision = "20261129_foundation"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "catalogue_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_state_code", sa.String(length=2), nullable=False),
        sa.Column("catalogue_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("source_text", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("loaded_by_id", sa.Integer(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["loaded_by_id"], ["user_account.id"], name=op.f("fk_catalogue_version_loaded_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["member_state_code"],
            ["member_state.code"],
            name=op.f("fk_catalogue_version_member_state_code_member_state"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalogue_version")),
        sa.UniqueConstraint("member_state_code", "catalogue_id", "version", name="uq_catalogue_version_key"),
    )
    with op.batch_alter_table("catalogue_version", schema=None) as batch_op:
        batch_op.create_index(
            "uq_catalogue_version_one_active",
            ["member_state_code"],
            unique=True,
            sqlite_where=sa.text("active"),
            postgresql_where=sa.text("active"),
        )


def downgrade():
    with op.batch_alter_table("catalogue_version", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_catalogue_version_one_active", sqlite_where=sa.text("active"), postgresql_where=sa.text("active")
        )

    op.drop_table("catalogue_version")
