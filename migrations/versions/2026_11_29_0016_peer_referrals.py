"""Referrals between installations: a referral's copy on each side when the other side is
a peer installation.

Revision ID: 20261129_peer_referrals
Revises: 20261129_federation_outbox_inbox
Create Date: 2026-11-29 16:00:00

Hand-checked. The sending side's copy has no service until the peer routes it (it keeps
the kind of service asked for); the receiving side's copy has no case and no sender here,
only the encrypted snapshot of what was shared. Existing referrals are whole (peer_id
NULL) and satisfy the new CHECK unchanged; the consent CHECK now applies where the case is.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "20261129_peer_referrals"
down_revision = "20261129_federation_outbox_inbox"
branch_labels = None
depends_on = None

SERVICE_TYPES = (
    "safe_accommodation",
    "emergency_accommodation",
    "medical",
    "psychological",
    "legal_aid",
    "interpretation",
    "material_assistance",
    "counselling",
    "child_protection",
    "education",
    "employment",
    "return_reintegration",
    "law_enforcement_liaison",
    "other",
)
PEER_COPY = (
    "(peer_id IS NULL) = (peer_side IS NULL) "
    "AND (peer_side IS NULL OR origin_state_code IS NOT NULL) "
    "AND (service_id IS NULL) = (recipient_agency_id IS NULL) "
    "AND (service_id IS NULL) = (recipient_organization_id IS NULL) "
    "AND (sender_agency_id IS NULL) = (sender_user_id IS NULL) "
    "AND (peer_side IS NOT NULL OR (case_id IS NOT NULL AND service_id IS NOT NULL AND sender_user_id IS NOT NULL)) "
    "AND (peer_side <> 'receiving' OR (case_id IS NOT NULL AND sender_user_id IS NOT NULL "
    "AND service_id IS NULL AND service_type IS NOT NULL)) "
    "AND (peer_side <> 'sending' OR (case_id IS NULL AND sender_user_id IS NULL "
    "AND shared_snapshot IS NOT NULL AND service_type IS NOT NULL))"
)
OLD_CONSENT = "(legal_basis = 'consent') = (consent_id IS NOT NULL)"
NEW_CONSENT = "case_id IS NULL OR (legal_basis = 'consent') = (consent_id IS NOT NULL)"
NULLABLE = (
    ("case_id", sa.String(length=36)),
    ("service_id", sa.String(length=36)),
    ("recipient_organization_id", sa.String(length=36)),
    ("recipient_agency_id", sa.Integer()),
    ("sender_agency_id", sa.Integer()),
    ("sender_user_id", sa.Integer()),
)
ADDED = (
    "shared_snapshot",
    "remote_service",
    "remote_sender",
    "remote_reference",
    "service_type",
    "peer_side",
    "peer_id",
)


def upgrade():
    with op.batch_alter_table("referral", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_referral_consent_basis"), type_="check")
        for name, type_ in NULLABLE:
            batch_op.alter_column(name, existing_type=type_, nullable=True)
        batch_op.add_column(sa.Column("peer_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("peer_side", sa.String(length=12), nullable=True))
        batch_op.add_column(
            sa.Column(
                "service_type",
                sa.Enum(
                    *SERVICE_TYPES, name="referral_service_type", native_enum=False, create_constraint=True, length=40
                ),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("remote_reference", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("remote_sender", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("remote_service", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("shared_snapshot", sa.Text(), nullable=True))
        batch_op.create_foreign_key(op.f("fk_referral_peer_id_federation_peer"), "federation_peer", ["peer_id"], ["id"])
        batch_op.create_index(batch_op.f("ix_referral_peer_id"), ["peer_id"], unique=False)
        batch_op.create_check_constraint(op.f("ck_referral_consent_basis"), NEW_CONSENT)
        batch_op.create_check_constraint(op.f("ck_referral_peer_copy"), PEER_COPY)


def downgrade():
    # A copy of a referral held with a peer cannot be expressed in the old schema.
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT count(*) FROM referral WHERE peer_id IS NOT NULL")).scalar():
        raise RuntimeError("referrals shared with peer installations exist; they cannot be downgraded")
    with op.batch_alter_table("referral", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_referral_peer_copy"), type_="check")
        batch_op.drop_constraint(op.f("ck_referral_consent_basis"), type_="check")
        batch_op.drop_constraint(op.f("ck_referral_referral_service_type"), type_="check")
        batch_op.drop_index(batch_op.f("ix_referral_peer_id"))
        batch_op.drop_constraint(op.f("fk_referral_peer_id_federation_peer"), type_="foreignkey")
        for column in ADDED:
            batch_op.drop_column(column)
        for name, type_ in NULLABLE:
            batch_op.alter_column(name, existing_type=type_, nullable=False)
        batch_op.create_check_constraint(op.f("ck_referral_consent_basis"), OLD_CONSENT)
