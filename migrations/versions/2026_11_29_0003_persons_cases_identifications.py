"""Persons, cases, case timeline and identification records.

Revision ID: 20261129_persons_cases
Revises: 20261129_catalogue_versions
Create Date: 2026-11-29 03:46:27.813432

Hand-checked. Identifying fields hold AES-GCM envelopes (the application's EncryptedText
type; plain TEXT in the database). The CHECK constraints carry the state invariants:
an anonymous person has no identifying data, a closed case has a reason, a submitted
identification is complete.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "20261129_persons_cases"
down_revision = "20261129_catalogue_versions"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "person",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("member_state_code", sa.String(length=2), nullable=False),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("given_names", sa.Text(), nullable=True),
        sa.Column("family_name", sa.Text(), nullable=True),
        sa.Column("aliases", sa.Text(), nullable=True),
        sa.Column("date_of_birth", sa.Text(), nullable=True),
        sa.Column("document_number", sa.Text(), nullable=True),
        sa.Column("contact_details", sa.Text(), nullable=True),
        sa.Column("estimated_age", sa.Integer(), nullable=True),
        sa.Column(
            "age_estimation",
            sa.Enum(
                "self_declared",
                "document",
                "professional_assessment",
                "appearance",
                name="age_estimation",
                native_enum=False,
                create_constraint=True,
                length=40,
            ),
            nullable=True,
        ),
        sa.Column("may_be_child", sa.Boolean(), nullable=False),
        sa.Column(
            "gender",
            sa.Enum(
                "Feminine",
                "Masculine",
                "TransgenderFeminine",
                "TransgenderMasculine",
                "NonConforming",
                "NonSpecifiedUnknown",
                name="gender",
                native_enum=False,
                create_constraint=True,
                length=40,
            ),
            nullable=True,
        ),
        sa.Column("citizenships", sa.JSON(), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column(
            "document_type",
            sa.Enum(
                "none",
                "passport",
                "national_id",
                "residence_permit",
                "other",
                name="document_type",
                native_enum=False,
                create_constraint=True,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("name_index", sa.String(length=64), nullable=True),
        sa.Column("document_index", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "NOT anonymous OR (given_names IS NULL AND family_name IS NULL AND aliases IS NULL AND date_of_birth IS NULL AND document_number IS NULL AND contact_details IS NULL AND name_index IS NULL AND document_index IS NULL)",
            name=op.f("ck_person_anonymous_has_no_identity"),
        ),
        sa.CheckConstraint(
            "estimated_age IS NULL OR (estimated_age >= 0 AND estimated_age < 120)",
            name=op.f("ck_person_estimated_age_range"),
        ),
        sa.ForeignKeyConstraint(
            ["member_state_code"], ["member_state.code"], name=op.f("fk_person_member_state_code_member_state")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person")),
    )
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_person_document_index"), ["document_index"], unique=False)
        batch_op.create_index(batch_op.f("ix_person_name_index"), ["name_index"], unique=False)

    op.create_table(
        "case_file",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("reference", sa.String(length=20), nullable=False),
        sa.Column("member_state_code", sa.String(length=2), nullable=False),
        sa.Column("owner_agency_id", sa.Integer(), nullable=False),
        sa.Column("assigned_user_id", sa.Integer(), nullable=True),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "assisting",
                "closed",
                "reopened",
                name="case_status",
                native_enum=False,
                create_constraint=True,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("closed_reason", sa.String(length=200), nullable=True),
        sa.Column("presumed_child", sa.Boolean(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "(status = 'closed') = (closed_reason IS NOT NULL)", name=op.f("ck_case_file_closed_with_reason")
        ),
        sa.CheckConstraint("level BETWEEN 0 AND 2", name=op.f("ck_case_file_level_range")),
        sa.ForeignKeyConstraint(
            ["assigned_user_id"], ["user_account.id"], name=op.f("fk_case_file_assigned_user_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["member_state_code"], ["member_state.code"], name=op.f("fk_case_file_member_state_code_member_state")
        ),
        sa.ForeignKeyConstraint(["owner_agency_id"], ["agency.id"], name=op.f("fk_case_file_owner_agency_id_agency")),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], name=op.f("fk_case_file_person_id_person")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_file")),
        sa.UniqueConstraint("reference", name=op.f("uq_case_file_reference")),
    )
    with op.batch_alter_table("case_file", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_file_member_state_code"), ["member_state_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_file_opened_at"), ["opened_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_file_owner_agency_id"), ["owner_agency_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_file_person_id"), ["person_id"], unique=False)

    op.create_table(
        "case_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["user_account.id"], name=op.f("fk_case_event_actor_id_user_account")),
        sa.ForeignKeyConstraint(["case_id"], ["case_file.id"], name=op.f("fk_case_event_case_id_case_file")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_event")),
    )
    with op.batch_alter_table("case_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_event_case_id"), ["case_id"], unique=False)

    op.create_table(
        "identification",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column(
            "status",
            sa.Enum("draft", "submitted", name="record_status", native_enum=False, create_constraint=True, length=40),
            nullable=False,
        ),
        sa.Column("officer_id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("member_state_code", sa.String(length=2), nullable=False),
        sa.Column("catalogue_key", sa.String(length=110), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=True),
        sa.Column("person_id", sa.String(length=36), nullable=True),
        sa.Column("case_id", sa.String(length=36), nullable=True),
        sa.Column("draft", sa.Text(), nullable=True),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("encounter_at", sa.DateTime(), nullable=True),
        sa.Column("encounter_country", sa.String(length=2), nullable=True),
        sa.Column(
            "context",
            sa.Enum(
                "border_check",
                "police_operation",
                "labour_inspection",
                "social_services",
                "health_service",
                "hotline",
                "self_referral",
                "other",
                name="encounter_context",
                native_enum=False,
                create_constraint=True,
                length=40,
            ),
            nullable=True,
        ),
        sa.Column("forms", sa.JSON(), nullable=False),
        sa.Column("presumed_child", sa.Boolean(), nullable=True),
        sa.Column("level", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "status = 'draft' OR (submitted_at IS NOT NULL AND case_id IS NOT NULL AND person_id IS NOT NULL AND content IS NOT NULL AND level IS NOT NULL AND presumed_child IS NOT NULL)",
            name=op.f("ck_identification_submitted_is_complete"),
        ),
        sa.ForeignKeyConstraint(["agency_id"], ["agency.id"], name=op.f("fk_identification_agency_id_agency")),
        sa.ForeignKeyConstraint(["case_id"], ["case_file.id"], name=op.f("fk_identification_case_id_case_file")),
        sa.ForeignKeyConstraint(
            ["encounter_country"], ["member_state.code"], name=op.f("fk_identification_encounter_country_member_state")
        ),
        sa.ForeignKeyConstraint(
            ["member_state_code"], ["member_state.code"], name=op.f("fk_identification_member_state_code_member_state")
        ),
        sa.ForeignKeyConstraint(
            ["officer_id"], ["user_account.id"], name=op.f("fk_identification_officer_id_user_account")
        ),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], name=op.f("fk_identification_person_id_person")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identification")),
    )
    with op.batch_alter_table("identification", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_identification_agency_id"), ["agency_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_identification_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_identification_officer_id"), ["officer_id"], unique=False)


def downgrade():
    with op.batch_alter_table("identification", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identification_officer_id"))
        batch_op.drop_index(batch_op.f("ix_identification_case_id"))
        batch_op.drop_index(batch_op.f("ix_identification_agency_id"))

    op.drop_table("identification")
    with op.batch_alter_table("case_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_event_case_id"))

    op.drop_table("case_event")
    with op.batch_alter_table("case_file", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_file_person_id"))
        batch_op.drop_index(batch_op.f("ix_case_file_owner_agency_id"))
        batch_op.drop_index(batch_op.f("ix_case_file_opened_at"))
        batch_op.drop_index(batch_op.f("ix_case_file_member_state_code"))

    op.drop_table("case_file")
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_name_index"))
        batch_op.drop_index(batch_op.f("ix_person_document_index"))

    op.drop_table("person")
