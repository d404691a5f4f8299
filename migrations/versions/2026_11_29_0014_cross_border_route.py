"""Cross-border referrals through both national focal points: the stages, pseudonymised
mode with identification on request, and each country's focal-point deadlines.

Revision ID: 20261129_cross_border_route
Revises: 20261129_federation_trust_list
Create Date: 2026-11-29 13:20:00

Hand-checked. Existing referrals are domestic (origin_state_code NULL, not pseudonymised).
The status CHECK gains the three cross-border stages, which also count as open for the
one-open-referral-per-case-and-service index; a returned referral has no running deadline.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "20261129_cross_border_route"
down_revision = "20261129_federation_trust_list"
branch_labels = None
depends_on = None

OLD_STATUSES = (
    "draft",
    "sent",
    "acknowledged",
    "accepted",
    "in_progress",
    "completed",
    "declined",
    "withdrawn",
    "expired",
    "reopened",
)
NEW_STATUSES = (*OLD_STATUSES, "focal_point_review", "returned", "focal_point_routing")
OLD_OPEN = "status IN ('draft', 'sent', 'acknowledged', 'reopened', 'accepted', 'in_progress')"
NEW_OPEN = (
    "status IN ('draft', 'sent', 'acknowledged', 'reopened', 'accepted', 'in_progress', "
    "'focal_point_review', 'returned', 'focal_point_routing')"
)
OLD_SENT = "(sent_at IS NULL) = (due_at IS NULL) AND (status IN ('draft', 'withdrawn') OR sent_at IS NOT NULL)"
NEW_SENT = (
    "(sent_at IS NULL) = (due_at IS NULL) AND (status IN ('draft', 'withdrawn', 'returned') OR sent_at IS NOT NULL)"
)
CROSS_BORDER_ONLY = (
    "origin_state_code IS NOT NULL OR (NOT pseudonymised AND status NOT IN "
    "('focal_point_review', 'returned', 'focal_point_routing'))"
)
STAGE_TIMES = (
    "(status <> 'focal_point_routing' OR approved_at IS NOT NULL) "
    "AND (status NOT IN ('focal_point_review', 'returned') OR (approved_at IS NULL AND routed_at IS NULL)) "
    "AND (origin_state_code IS NULL "
    "OR status NOT IN ('sent', 'acknowledged', 'reopened', 'accepted', 'in_progress', 'completed') "
    "OR routed_at IS NOT NULL)"
)
TIMES = ("submitted_at", "approved_at", "routed_at", "identity_requested_at", "identity_decided_at")


def _status_list(statuses: tuple[str, ...]) -> str:
    return "status IN (" + ", ".join(f"'{s}'" for s in statuses) + ")"


def upgrade():
    with op.batch_alter_table("member_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("focal_point_emergency_hours", sa.Integer(), server_default="2", nullable=False))
        batch_op.add_column(sa.Column("focal_point_urgent_hours", sa.Integer(), server_default="24", nullable=False))
        batch_op.add_column(
            sa.Column("focal_point_routine_working_days", sa.Integer(), server_default="2", nullable=False)
        )
        batch_op.create_check_constraint("focal_point_emergency_range", "focal_point_emergency_hours BETWEEN 1 AND 72")
        batch_op.create_check_constraint("focal_point_urgent_range", "focal_point_urgent_hours BETWEEN 1 AND 168")
        batch_op.create_check_constraint(
            "focal_point_routine_range", "focal_point_routine_working_days BETWEEN 1 AND 60"
        )

    with op.batch_alter_table("referral", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_referral_open_case_service", sqlite_where=sa.text(OLD_OPEN), postgresql_where=sa.text(OLD_OPEN)
        )
        batch_op.drop_constraint(op.f("ck_referral_referral_status"), type_="check")
        batch_op.drop_constraint(op.f("ck_referral_sent_with_deadline"), type_="check")
        batch_op.add_column(sa.Column("origin_state_code", sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column("pseudonymised", sa.Boolean(), server_default=sa.false(), nullable=False))
        for name in TIMES:
            batch_op.add_column(sa.Column(name, sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("return_note", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("return_note_language", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("identity_request", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("identity_request_language", sa.String(length=8), nullable=True))
        batch_op.add_column(
            sa.Column(
                "identity_decision",
                sa.Enum(
                    "released",
                    "refused",
                    name="referral_identity_decision",
                    native_enum=False,
                    create_constraint=True,
                    length=40,
                ),
                nullable=True,
            )
        )
        batch_op.create_foreign_key(
            op.f("fk_referral_origin_state_code_member_state"), "member_state", ["origin_state_code"], ["code"]
        )
        batch_op.create_check_constraint(op.f("ck_referral_referral_status"), _status_list(NEW_STATUSES))
        batch_op.create_check_constraint(op.f("ck_referral_sent_with_deadline"), NEW_SENT)
        batch_op.create_check_constraint(op.f("ck_referral_cross_border_only"), CROSS_BORDER_ONLY)
        batch_op.create_check_constraint(
            op.f("ck_referral_origin_abroad"), "origin_state_code IS NULL OR origin_state_code <> member_state_code"
        )
        batch_op.create_check_constraint(
            op.f("ck_referral_identity_decided"), "(identity_decision IS NULL) = (identity_decided_at IS NULL)"
        )
        batch_op.create_check_constraint(op.f("ck_referral_stage_times"), STAGE_TIMES)
        batch_op.create_check_constraint(
            op.f("ck_referral_returned_with_note"), "status <> 'returned' OR return_note IS NOT NULL"
        )
        batch_op.create_index(
            "uq_referral_open_case_service",
            ["case_id", "service_id"],
            unique=True,
            sqlite_where=sa.text(NEW_OPEN),
            postgresql_where=sa.text(NEW_OPEN),
        )
        batch_op.create_index(
            "ix_referral_state_origin_status", ["member_state_code", "origin_state_code", "status"], unique=False
        )
        batch_op.create_index("ix_referral_origin_status", ["origin_state_code", "status"], unique=False)


def downgrade():
    # Cross-border referrals cannot be expressed in the old schema: refuse rather than lose them.
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT count(*) FROM referral WHERE origin_state_code IS NOT NULL")).scalar():
        raise RuntimeError("cross-border referrals exist; they cannot be downgraded")
    with op.batch_alter_table("referral", schema=None) as batch_op:
        batch_op.drop_index("ix_referral_origin_status")
        batch_op.drop_index("ix_referral_state_origin_status")
        batch_op.drop_index(
            "uq_referral_open_case_service", sqlite_where=sa.text(NEW_OPEN), postgresql_where=sa.text(NEW_OPEN)
        )
        batch_op.drop_constraint(op.f("ck_referral_returned_with_note"), type_="check")
        batch_op.drop_constraint(op.f("ck_referral_stage_times"), type_="check")
        batch_op.drop_constraint(op.f("ck_referral_identity_decided"), type_="check")
        batch_op.drop_constraint(op.f("ck_referral_origin_abroad"), type_="check")
        batch_op.drop_constraint(op.f("ck_referral_cross_border_only"), type_="check")
        batch_op.drop_constraint(op.f("ck_referral_sent_with_deadline"), type_="check")
        batch_op.drop_constraint(op.f("ck_referral_referral_status"), type_="check")
        batch_op.drop_constraint(op.f("fk_referral_origin_state_code_member_state"), type_="foreignkey")
        batch_op.drop_constraint(op.f("ck_referral_referral_identity_decision"), type_="check")
        batch_op.drop_column("identity_decision")
        batch_op.drop_column("identity_request_language")
        batch_op.drop_column("identity_request")
        batch_op.drop_column("return_note_language")
        batch_op.drop_column("return_note")
        for name in reversed(TIMES):
            batch_op.drop_column(name)
        batch_op.drop_column("pseudonymised")
        batch_op.drop_column("origin_state_code")
        batch_op.create_check_constraint(op.f("ck_referral_referral_status"), _status_list(OLD_STATUSES))
        batch_op.create_check_constraint(op.f("ck_referral_sent_with_deadline"), OLD_SENT)
        batch_op.create_index(
            "uq_referral_open_case_service",
            ["case_id", "service_id"],
            unique=True,
            sqlite_where=sa.text(OLD_OPEN),
            postgresql_where=sa.text(OLD_OPEN),
        )
    with op.batch_alter_table("member_state", schema=None) as batch_op:
        batch_op.drop_constraint("focal_point_routine_range", type_="check")
        batch_op.drop_constraint("focal_point_urgent_range", type_="check")
        batch_op.drop_constraint("focal_point_emergency_range", type_="check")
        batch_op.drop_column("focal_point_routine_working_days")
        batch_op.drop_column("focal_point_urgent_hours")
        batch_op.drop_column("focal_point_emergency_hours")
