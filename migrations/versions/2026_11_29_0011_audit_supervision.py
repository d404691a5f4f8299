"""Audit supervision: hashed payload and case/country columns on audit entries, signed
checkpoints, a pruning boundary on the chain head, break-glass access, and each
country's audit retention.

Revision ID: 20261129_audit_supervision
Revises: 20261129_referrals
Create Date: 2026-11-29 10:40:00

Hand-checked.
- audit_entry.payload holds the exact bytes the hash covers. Existing entries get the
  RFC 8785 JSON they were hashed over (same fields, so their hashes stay valid); the
  details column it replaces is dropped. Existing entries keep no case or country (their
  payload has none): they show as installation-wide events.
- On PostgreSQL the append-only trigger is disabled for the backfill only, and replaced by
  one that still rejects every UPDATE and lets DELETE through only for entries before the
  chain head's first_seq (what `flask audit prune` cut off behind a signed checkpoint).
  A statement trigger rejects TRUNCATE, which row triggers do not see. The chain head may
  only move forward (so the start of the kept chain cannot be moved by hand to hide what
  is before it) and checkpoints are append-only (DELETE only of those below that start).
- Alembic does not detect CHECK constraints on existing tables: member_state's is added
  by hand.
"""

import json

import rfc8785
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "20261129_audit_supervision"
down_revision = "20261129_referrals"
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade():
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payload", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("member_state_code", sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column("case_id", sa.String(length=36), nullable=True))

    if _postgresql():
        op.execute("ALTER TABLE audit_entry DISABLE TRIGGER audit_entry_append_only")
    _backfill_payloads()
    if _postgresql():
        op.execute("ALTER TABLE audit_entry ENABLE TRIGGER audit_entry_append_only")
        op.execute(AUDIT_APPEND_ONLY_FUNCTION)
        op.execute(NO_TRUNCATE_FUNCTION)
        op.execute(NO_TRUNCATE_TRIGGER)

    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.alter_column("payload", existing_type=sa.Text(), nullable=False)
        batch_op.drop_column("details")
        batch_op.drop_index("ix_audit_entry_actor_id")
        batch_op.create_index("ix_audit_entry_actor_seq", ["actor_id", "seq"], unique=False)
        batch_op.create_index("ix_audit_entry_case_seq", ["case_id", "seq"], unique=False)
        batch_op.create_index("ix_audit_entry_state_seq", ["member_state_code", "seq"], unique=False)

    with op.batch_alter_table("audit_chain_head", schema=None) as batch_op:
        batch_op.add_column(sa.Column("first_seq", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("first_prev_hash", sa.String(length=64), server_default=GENESIS, nullable=False))
    # The head row exists from the start, so concurrent first writers lock one row.
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT count(*) FROM audit_chain_head")).scalar() == 0:
        op.bulk_insert(
            sa.table(
                "audit_chain_head",
                sa.column("id", sa.Integer),
                sa.column("last_seq", sa.Integer),
                sa.column("last_hash", sa.String),
                sa.column("first_seq", sa.Integer),
                sa.column("first_prev_hash", sa.String),
            ),
            [{"id": 1, "last_seq": 0, "last_hash": GENESIS, "first_seq": 1, "first_prev_hash": GENESIS}],
        )

    op.create_table(
        "audit_checkpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoint")),
    )
    with op.batch_alter_table("audit_checkpoint", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_checkpoint_seq"), ["seq"], unique=False)

    op.create_table(
        "break_glass_access",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("member_state_code", sa.String(length=2), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("justification", sa.Text(), nullable=False),
        sa.Column("granted_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(), nullable=True),
        sa.Column("reviewer_id", sa.Integer(), nullable=True),
        sa.Column(
            "review_outcome",
            sa.Enum("justified", "not_justified", name="break_glass_review", native_enum=False, length=40),
            nullable=True,
        ),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("expires_at > granted_at", name=op.f("ck_break_glass_access_expiry_after_grant")),
        sa.CheckConstraint(
            "(reviewed_at IS NULL AND reviewer_id IS NULL AND review_outcome IS NULL)"
            " OR (reviewed_at IS NOT NULL AND reviewer_id IS NOT NULL AND review_outcome IS NOT NULL)",
            name=op.f("ck_break_glass_access_review_complete"),
        ),
        sa.CheckConstraint(
            "review_outcome IN ('justified', 'not_justified')", name=op.f("ck_break_glass_access_break_glass_review")
        ),
        sa.ForeignKeyConstraint(["case_id"], ["case_file.id"], name=op.f("fk_break_glass_access_case_id_case_file")),
        sa.ForeignKeyConstraint(
            ["member_state_code"],
            ["member_state.code"],
            name=op.f("fk_break_glass_access_member_state_code_member_state"),
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_id"], ["user_account.id"], name=op.f("fk_break_glass_access_reviewer_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_break_glass_access_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_break_glass_access")),
    )
    with op.batch_alter_table("break_glass_access", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_break_glass_access_case_id"), ["case_id"], unique=False)
        batch_op.create_index("ix_break_glass_user_case_expires", ["user_id", "case_id", "expires_at"], unique=False)
        batch_op.create_index("ix_break_glass_state_reviewed", ["member_state_code", "reviewed_at"], unique=False)

    if _postgresql():
        _guard_head_and_checkpoints()

    with op.batch_alter_table("member_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("audit_retention_months", sa.Integer(), server_default="120", nullable=False))
    # A country keeping case data longer than ten years keeps its audit trail as long.
    op.execute(
        "UPDATE member_state SET audit_retention_months = retention_months"
        " WHERE retention_months IS NOT NULL AND retention_months > audit_retention_months"
    )
    with op.batch_alter_table("member_state", schema=None) as batch_op:
        batch_op.create_check_constraint(
            "audit_retention_covers_cases",
            "audit_retention_months >= 12 AND (retention_months IS NULL OR audit_retention_months >= retention_months)",
        )


def _guard_head_and_checkpoints():
    """PostgreSQL: the chain head only moves forward, checkpoints are append-only (DELETE
    only below the kept chain's start, as pruning does), neither can be truncated."""
    for statement in HEAD_AND_CHECKPOINT_GUARDS:
        op.execute(statement)


def _timestamp(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _backfill_payloads():
    """Store, for each existing entry, the canonical JSON its hash was computed over."""
    entry = sa.table(
        "audit_entry",
        sa.column("seq", sa.Integer),
        sa.column("occurred_at", sa.DateTime),
        sa.column("actor_id", sa.Integer),
        sa.column("actor_agency_id", sa.Integer),
        sa.column("action", sa.String),
        sa.column("object_type", sa.String),
        sa.column("object_id", sa.String),
        sa.column("request_id", sa.String),
        sa.column("client_address", sa.String),
        sa.column("details", sa.JSON),
        sa.column("payload", sa.Text),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(entry).order_by(entry.c.seq)).mappings().all()
    for row in rows:
        details = row["details"]
        if isinstance(details, str):
            details = json.loads(details)
        payload = rfc8785.dumps(
            {
                "seq": row["seq"],
                "occurred_at": _timestamp(row["occurred_at"]),
                "actor_id": row["actor_id"],
                "actor_agency_id": row["actor_agency_id"],
                "action": row["action"],
                "object_type": row["object_type"],
                "object_id": row["object_id"],
                "request_id": row["request_id"],
                "client_address": row["client_address"],
                "details": details or {},
            }
        ).decode("utf-8")
        bind.execute(sa.update(entry).where(entry.c.seq == row["seq"]).values(payload=payload))


AUDIT_APPEND_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND OLD.seq < (SELECT first_seq FROM audit_chain_head WHERE id = 1) THEN
        RETURN OLD;  -- pruned behind a signed checkpoint (flask audit prune)
    END IF;
    RAISE EXCEPTION 'audit_entry is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$
"""

NO_TRUNCATE_FUNCTION = """
CREATE FUNCTION audit_entry_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_entry is append-only: TRUNCATE is not allowed'
        USING ERRCODE = 'insufficient_privilege';
END;
$$
"""

NO_TRUNCATE_TRIGGER = """
CREATE TRIGGER audit_entry_no_truncate
BEFORE TRUNCATE ON audit_entry
FOR EACH STATEMENT EXECUTE FUNCTION audit_entry_no_truncate()
"""

HEAD_AND_CHECKPOINT_GUARDS = (
    """
CREATE FUNCTION audit_chain_head_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.last_seq < OLD.last_seq OR NEW.first_seq < OLD.first_seq OR NEW.first_seq > NEW.last_seq + 1 THEN
        RAISE EXCEPTION 'audit_chain_head only moves forward' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$
""",
    """
CREATE TRIGGER audit_chain_head_forward_only
BEFORE UPDATE ON audit_chain_head
FOR EACH ROW EXECUTE FUNCTION audit_chain_head_forward_only()
""",
    """
CREATE FUNCTION audit_checkpoint_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND OLD.seq < (SELECT first_seq FROM audit_chain_head WHERE id = 1) THEN
        RETURN OLD;  -- pins only pruned entries
    END IF;
    RAISE EXCEPTION 'audit_checkpoint is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$
""",
    """
CREATE TRIGGER audit_checkpoint_append_only
BEFORE UPDATE OR DELETE ON audit_checkpoint
FOR EACH ROW EXECUTE FUNCTION audit_checkpoint_append_only()
""",
    """
CREATE TRIGGER audit_checkpoint_no_truncate
BEFORE TRUNCATE ON audit_checkpoint
FOR EACH STATEMENT EXECUTE FUNCTION audit_entry_no_truncate()
""",
    """
CREATE TRIGGER audit_chain_head_no_truncate
BEFORE TRUNCATE ON audit_chain_head
FOR EACH STATEMENT EXECUTE FUNCTION audit_entry_no_truncate()
""",
)

ORIGINAL_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_entry is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$
"""


def downgrade():
    if _postgresql():
        op.execute("DROP TRIGGER audit_chain_head_no_truncate ON audit_chain_head")
        op.execute("DROP TRIGGER audit_checkpoint_no_truncate ON audit_checkpoint")
        op.execute("DROP TRIGGER audit_checkpoint_append_only ON audit_checkpoint")
        op.execute("DROP FUNCTION audit_checkpoint_append_only()")
        op.execute("DROP TRIGGER audit_chain_head_forward_only ON audit_chain_head")
        op.execute("DROP FUNCTION audit_chain_head_forward_only()")
    with op.batch_alter_table("member_state", schema=None) as batch_op:
        batch_op.drop_constraint("audit_retention_covers_cases", type_="check")
        batch_op.drop_column("audit_retention_months")
    with op.batch_alter_table("break_glass_access", schema=None) as batch_op:
        batch_op.drop_index("ix_break_glass_state_reviewed")
        batch_op.drop_index("ix_break_glass_user_case_expires")
        batch_op.drop_index(batch_op.f("ix_break_glass_access_case_id"))
    op.drop_table("break_glass_access")
    with op.batch_alter_table("audit_checkpoint", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_checkpoint_seq"))
    op.drop_table("audit_checkpoint")
    with op.batch_alter_table("audit_chain_head", schema=None) as batch_op:
        batch_op.drop_column("first_prev_hash")
        batch_op.drop_column("first_seq")
    # The details come back from the payload. Entries written after the upgrade that carry
    # a case or country do not verify under the old code (their payload says more).
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_entry_state_seq")
        batch_op.drop_index("ix_audit_entry_case_seq")
        batch_op.drop_index("ix_audit_entry_actor_seq")
        batch_op.create_index("ix_audit_entry_actor_id", ["actor_id"], unique=False)
        batch_op.add_column(sa.Column("details", sa.JSON(), nullable=True))
    if _postgresql():
        op.execute("DROP TRIGGER audit_entry_no_truncate ON audit_entry")
        op.execute("DROP FUNCTION audit_entry_no_truncate()")
        op.execute(ORIGINAL_FUNCTION)
        op.execute("ALTER TABLE audit_entry DISABLE TRIGGER audit_entry_append_only")
    if _postgresql():
        op.execute("UPDATE audit_entry SET details = payload::json -> 'details'")
    else:
        op.execute("UPDATE audit_entry SET details = json_extract(payload, '$.details')")
    if _postgresql():
        op.execute("ALTER TABLE audit_entry ENABLE TRIGGER audit_entry_append_only")
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_column("case_id")
        batch_op.drop_column("member_state_code")
        batch_op.drop_column("payload")
