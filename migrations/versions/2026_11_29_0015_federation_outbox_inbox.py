"""The federation outbox (packages to deliver, retried with back-off) and inbox (packages
accepted once per id).

Revision ID: 20261129_federation_outbox_inbox
Revises: 20261129_cross_border_route
Create Date: 2026-11-29 13:50:00

Hand-checked. New tables only.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "20261129_federation_outbox_inbox"
down_revision = "20261129_cross_border_route"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "federation_outbox",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("peer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("package", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("last_error", sa.String(length=40), nullable=True),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("refused_at", sa.DateTime(), nullable=True),
        sa.Column("receipt", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "delivered_at IS NULL OR refused_at IS NULL", name=op.f("ck_federation_outbox_delivered_or_refused")
        ),
        sa.CheckConstraint(
            "(delivered_at IS NULL) = (receipt IS NULL)", name=op.f("ck_federation_outbox_delivered_with_receipt")
        ),
        sa.ForeignKeyConstraint(
            ["peer_id"], ["federation_peer.id"], name=op.f("fk_federation_outbox_peer_id_federation_peer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_outbox")),
    )
    with op.batch_alter_table("federation_outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_federation_outbox_due", ["delivered_at", "refused_at", "next_attempt_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_federation_outbox_peer_id"), ["peer_id"], unique=False)

    op.create_table(
        "federation_inbox",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("peer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["peer_id"], ["federation_peer.id"], name=op.f("fk_federation_inbox_peer_id_federation_peer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_inbox")),
    )
    with op.batch_alter_table("federation_inbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_federation_inbox_peer_id"), ["peer_id"], unique=False)


def downgrade():
    with op.batch_alter_table("federation_inbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_federation_inbox_peer_id"))
    op.drop_table("federation_inbox")
    with op.batch_alter_table("federation_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_federation_outbox_peer_id"))
        batch_op.drop_index("ix_federation_outbox_due")
    op.drop_table("federation_outbox")
