"""The federation trust list: peer installations and their public keys.

Revision ID: 20261129_federation_trust_list
Revises: 20261129_free_text_languages
Create Date: 2026-11-29 11:55:00

Hand-checked.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "20261129_federation_trust_list"
down_revision = "20261129_free_text_languages"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "federation_peer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("base_url", sa.String(length=200), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["country"], ["member_state.code"], name=op.f("fk_federation_peer_country_member_state")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_peer")),
        sa.UniqueConstraint("base_url", name=op.f("uq_federation_peer_base_url")),
    )
    op.create_table(
        "federation_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("peer_id", sa.Integer(), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column(
            "use", sa.Enum("sig", "enc", name="federation_key_use", native_enum=False, length=40), nullable=False
        ),
        sa.Column("public_jwk", sa.Text(), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("use IN ('sig', 'enc')", name=op.f("ck_federation_key_federation_key_use")),
        sa.ForeignKeyConstraint(
            ["peer_id"], ["federation_peer.id"], name=op.f("fk_federation_key_peer_id_federation_peer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_key")),
        sa.UniqueConstraint("kid", name=op.f("uq_federation_key_kid")),
    )
    with op.batch_alter_table("federation_key", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_federation_key_peer_id"), ["peer_id"], unique=False)


def downgrade():
    with op.batch_alter_table("federation_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_federation_key_peer_id"))
    op.drop_table("federation_key")
    op.drop_table("federation_peer")
