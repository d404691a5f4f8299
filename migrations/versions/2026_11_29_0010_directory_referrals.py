"""Service directory (HSDS-aligned organisations and services with live capacity),
referrals with their history, in-app notifications, named organisations in consent,
and each country's referral response deadlines.

Revision ID: 20261129_referrals
Revises: 20261129_case_list_indexes
Create Date: 2026-11-29 08:50:59.609274

Hand-checked. Encrypted columns are plain TEXT in the schema. Alembic does not detect
CHECK constraints on existing tables: the three on member_state are added by hand.
The partial unique index (one open referral per case and service) is portable:
SQLite and PostgreSQL both support WHERE on an index.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "20261129_referrals"
down_revision = "20261129_case_list_indexes"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "organization",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("website", sa.String(length=300), nullable=True),
        sa.Column("member_state_code", sa.String(length=2), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False),
        sa.Column("updated_at", sa.DateTime(), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agency.id"], name=op.f("fk_organization_agency_id_agency")),
        sa.ForeignKeyConstraint(
            ["member_state_code"], ["member_state.code"], name=op.f("fk_organization_member_state_code_member_state")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organization")),
        sa.UniqueConstraint("agency_id", name=op.f("uq_organization_agency_id")),
    )
    with op.batch_alter_table("organization", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_organization_member_state_code"), ["member_state_code"], unique=False)

    op.create_table(
        "service",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("organization_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "service_type",
            sa.Enum(
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
                name="service_type",
                native_enum=False,
                create_constraint=True,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("member_state_code", sa.String(length=2), nullable=False),
        sa.Column("region", sa.String(length=120), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("target_groups", sa.JSON(), nullable=False),
        sa.Column("eligibility", sa.Text(), nullable=False),
        sa.Column("opening_hours", sa.String(length=300), nullable=False),
        sa.Column("always_open", sa.Boolean(), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("capacity_unit", sa.String(length=40), nullable=False),
        sa.Column("capacity_available", sa.Integer(), nullable=True),
        sa.Column("capacity_maximum", sa.Integer(), nullable=True),
        sa.Column("capacity_updated_at", sa.DateTime(), nullable=True),
        sa.Column("capacity_updated_by_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False),
        sa.Column("updated_at", sa.DateTime(), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False),
        sa.CheckConstraint(
            "(capacity_maximum IS NULL AND capacity_available IS NULL) OR (capacity_maximum >= 0 AND capacity_available >= 0 AND capacity_available <= capacity_maximum)",
            name=op.f("ck_service_capacity_range"),
        ),
        sa.ForeignKeyConstraint(
            ["capacity_updated_by_id"], ["user_account.id"], name=op.f("fk_service_capacity_updated_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["member_state_code"], ["member_state.code"], name=op.f("fk_service_member_state_code_member_state")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organization.id"], name=op.f("fk_service_organization_id_organization")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service")),
    )
    with op.batch_alter_table("service", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_service_organization_id"), ["organization_id"], unique=False)
        batch_op.create_index("ix_service_state_type", ["member_state_code", "service_type", "active"], unique=False)

    op.create_table(
        "referral",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("service_id", sa.String(length=36), nullable=False),
        sa.Column("recipient_organization_id", sa.String(length=36), nullable=False),
        sa.Column("recipient_agency_id", sa.Integer(), nullable=False),
        sa.Column("sender_agency_id", sa.Integer(), nullable=False),
        sa.Column("sender_user_id", sa.Integer(), nullable=False),
        sa.Column("member_state_code", sa.String(length=2), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
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
                name="referral_status",
                native_enum=False,
                create_constraint=True,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column(
            "urgency",
            sa.Enum(
                "emergency",
                "urgent",
                "routine",
                name="referral_urgency",
                native_enum=False,
                create_constraint=True,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("shared_parts", sa.JSON(), nullable=False),
        sa.Column(
            "legal_basis",
            sa.Enum(
                "consent",
                "child_protection",
                "vital_interest",
                name="referral_legal_basis",
                native_enum=False,
                create_constraint=True,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("consent_id", sa.String(length=36), nullable=True),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("justification", sa.Text(), nullable=True),
        sa.Column(
            "decline_reason",
            sa.Enum(
                "no_capacity",
                "not_eligible",
                "person_declined",
                "not_reachable",
                "other",
                name="referral_decline_reason",
                native_enum=False,
                create_constraint=True,
                length=40,
            ),
            nullable=True,
        ),
        sa.Column("decline_note", sa.Text(), nullable=True),
        sa.Column(
            "outcome",
            sa.Enum(
                "got_help",
                "not_contacted",
                "person_declined",
                "other",
                name="referral_outcome",
                native_enum=False,
                create_constraint=True,
                length=40,
            ),
            nullable=True,
        ),
        sa.Column("services_delivered", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("due_at", sa.DateTime(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(), nullable=True),
        sa.Column("accepted_at", sa.DateTime(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("reminded_at", sa.DateTime(), nullable=True),
        sa.Column("escalated_at", sa.DateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "(legal_basis = 'consent') = (consent_id IS NOT NULL)", name=op.f("ck_referral_consent_basis")
        ),
        sa.CheckConstraint(
            "(status = 'declined') = (decline_reason IS NOT NULL)", name=op.f("ck_referral_declined_with_reason")
        ),
        sa.CheckConstraint(
            "legal_basis <> 'vital_interest' OR justification IS NOT NULL", name=op.f("ck_referral_exception_justified")
        ),
        sa.CheckConstraint(
            "status <> 'completed' OR outcome IS NOT NULL", name=op.f("ck_referral_completed_with_outcome")
        ),
        sa.CheckConstraint(
            "(sent_at IS NULL) = (due_at IS NULL) AND (status IN ('draft', 'withdrawn') OR sent_at IS NOT NULL)",
            name=op.f("ck_referral_sent_with_deadline"),
        ),
        sa.ForeignKeyConstraint(["case_id"], ["case_file.id"], name=op.f("fk_referral_case_id_case_file")),
        sa.ForeignKeyConstraint(["consent_id"], ["consent.id"], name=op.f("fk_referral_consent_id_consent")),
        sa.ForeignKeyConstraint(
            ["member_state_code"], ["member_state.code"], name=op.f("fk_referral_member_state_code_member_state")
        ),
        sa.ForeignKeyConstraint(
            ["recipient_agency_id"], ["agency.id"], name=op.f("fk_referral_recipient_agency_id_agency")
        ),
        sa.ForeignKeyConstraint(
            ["recipient_organization_id"],
            ["organization.id"],
            name=op.f("fk_referral_recipient_organization_id_organization"),
        ),
        sa.ForeignKeyConstraint(["sender_agency_id"], ["agency.id"], name=op.f("fk_referral_sender_agency_id_agency")),
        sa.ForeignKeyConstraint(
            ["sender_user_id"], ["user_account.id"], name=op.f("fk_referral_sender_user_id_user_account")
        ),
        sa.ForeignKeyConstraint(["service_id"], ["service.id"], name=op.f("fk_referral_service_id_service")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral")),
    )
    with op.batch_alter_table("referral", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_referral_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            "ix_referral_recipient_status_due", ["recipient_agency_id", "status", "due_at"], unique=False
        )
        batch_op.create_index("ix_referral_recipient_ended", ["recipient_agency_id", "ended_at"], unique=False)
        batch_op.create_index("ix_referral_sender_created", ["sender_agency_id", "created_at"], unique=False)
        batch_op.create_index("ix_referral_status_due", ["status", "due_at"], unique=False)
        batch_op.create_index(
            "uq_referral_open_case_service",
            ["case_id", "service_id"],
            unique=True,
            sqlite_where=sa.text("status IN ('draft', 'sent', 'acknowledged', 'reopened', 'accepted', 'in_progress')"),
            postgresql_where=sa.text(
                "status IN ('draft', 'sent', 'acknowledged', 'reopened', 'accepted', 'in_progress')"
            ),
        )

    op.create_table(
        "notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("referral_id", sa.String(length=36), nullable=True),
        sa.Column("link", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("read_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["referral_id"], ["referral.id"], name=op.f("fk_notification_referral_id_referral")),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], name=op.f("fk_notification_user_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification")),
    )
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.create_index("ix_notification_user_read_created", ["user_id", "read_at", "created_at"], unique=False)

    op.create_table(
        "referral_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("side", sa.String(length=12), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=False),
        sa.Column("to_status", sa.String(length=20), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["user_account.id"], name=op.f("fk_referral_event_actor_id_user_account")
        ),
        sa.ForeignKeyConstraint(["referral_id"], ["referral.id"], name=op.f("fk_referral_event_referral_id_referral")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_event")),
    )
    with op.batch_alter_table("referral_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_referral_event_referral_id"), ["referral_id"], unique=False)

    with op.batch_alter_table("consent", schema=None) as batch_op:
        batch_op.add_column(sa.Column("organization_ids", sa.JSON(), server_default="[]", nullable=False))

    with op.batch_alter_table("member_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("referral_emergency_hours", sa.Integer(), server_default="2", nullable=False))
        batch_op.add_column(sa.Column("referral_urgent_hours", sa.Integer(), server_default="24", nullable=False))
        batch_op.add_column(
            sa.Column("referral_routine_working_days", sa.Integer(), server_default="5", nullable=False)
        )
        batch_op.create_check_constraint("referral_emergency_range", "referral_emergency_hours BETWEEN 1 AND 72")
        batch_op.create_check_constraint("referral_urgent_range", "referral_urgent_hours BETWEEN 1 AND 168")
        batch_op.create_check_constraint("referral_routine_range", "referral_routine_working_days BETWEEN 1 AND 60")


def downgrade():
    with op.batch_alter_table("member_state", schema=None) as batch_op:
        batch_op.drop_constraint("referral_routine_range", type_="check")
        batch_op.drop_constraint("referral_urgent_range", type_="check")
        batch_op.drop_constraint("referral_emergency_range", type_="check")
        batch_op.drop_column("referral_routine_working_days")
        batch_op.drop_column("referral_urgent_hours")
        batch_op.drop_column("referral_emergency_hours")

    with op.batch_alter_table("consent", schema=None) as batch_op:
        batch_op.drop_column("organization_ids")

    with op.batch_alter_table("referral_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_referral_event_referral_id"))

    op.drop_table("referral_event")
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_user_read_created")

    op.drop_table("notification")
    with op.batch_alter_table("referral", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_referral_open_case_service",
            sqlite_where=sa.text("status IN ('draft', 'sent', 'acknowledged', 'reopened', 'accepted', 'in_progress')"),
            postgresql_where=sa.text(
                "status IN ('draft', 'sent', 'acknowledged', 'reopened', 'accepted', 'in_progress')"
            ),
        )
        batch_op.drop_index("ix_referral_status_due")
        batch_op.drop_index("ix_referral_sender_created")
        batch_op.drop_index("ix_referral_recipient_status_due")
        batch_op.drop_index("ix_referral_recipient_ended")
        batch_op.drop_index(batch_op.f("ix_referral_case_id"))

    op.drop_table("referral")
    with op.batch_alter_table("service", schema=None) as batch_op:
        batch_op.drop_index("ix_service_state_type")
        batch_op.drop_index(batch_op.f("ix_service_organization_id"))

    op.drop_table("service")
    with op.batch_alter_table("organization", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_organization_member_state_code"))

    op.drop_table("organization")
