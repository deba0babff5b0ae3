"""Suppression and data-subject requests: keyed hashes on prospects, requests, legal holds.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
HASH = sa.String(64)  # lowercase hex HMAC-SHA256


def upgrade() -> None:
    # Keyed hashes of each held person's identifiers, under the key named by
    # hash_key_id, so suppression entries (which hold nothing else) can be
    # applied to what is held in SQL. Indexed on SQLite only, by 0004 (measured at 1M held).
    # Plain ADD COLUMN (no batch copy): SQLite cannot rebuild a table that the
    # marketing_prospects view reads.
    op.add_column("prospects", sa.Column("email_hash", HASH))
    op.add_column("prospects", sa.Column("phone_hash", HASH))
    op.add_column("prospects", sa.Column("domain_hash", HASH))
    op.add_column("prospects", sa.Column("hash_key_id", sa.String(32)))
    # A phone-scope suppression (e.g. TPS): not to be called; email is unaffected.
    op.add_column("prospects", sa.Column("do_not_call", sa.Boolean, nullable=False, server_default=sa.false()))

    # Look-ups go by (key_type, key_hash): the leading columns of the unique
    # constraint uq_suppression_key, so that index serves them and a second one
    # would only slow the loading of big lists.
    op.drop_index("ix_suppression_key_hash", table_name="suppression_list")

    op.create_table(
        "data_subject_requests",
        sa.Column("request_id", sa.String(128), primary_key=True),
        sa.Column("type", sa.String(32), nullable=False),
        # open: not yet carried out (needs a person); completed; refused (with outcome).
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(64)),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.Column("due_at", sa.DateTime, nullable=False),
        sa.Column("completed_at", sa.DateTime),
        # The requester, as the keyed hash of their email match key: no plaintext.
        sa.Column("subject_hash", HASH, nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("prospect_id", ID),
        # Rectification: the names of the fields changed, never their values.
        sa.Column("fields", sa.Text),
        sa.Column("answer_file", sa.Text),
        sa.Column("file_id", ID),
        sa.Column("recorded_at", sa.DateTime, nullable=False),
        sa.CheckConstraint(
            "type IN ('access', 'portability', 'rectification', 'erasure', 'restriction', 'objection')",
            name="ck_dsr_type",
        ),
        sa.CheckConstraint("status IN ('open', 'completed', 'refused')", name="ck_dsr_status"),
    )
    op.create_index("ix_dsr_subject_hash", "data_subject_requests", ["subject_hash"])
    op.create_index("ix_dsr_status_due", "data_subject_requests", ["status", "due_at"])

    # Filled by the retention work; erasure already refuses while a hold stands.
    op.create_table(
        "legal_holds",
        sa.Column("hold_id", ID, primary_key=True, autoincrement=True),
        sa.Column("subject_hash", HASH, nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("case_ref", sa.String(128), nullable=False),
        sa.Column("placed_at", sa.DateTime, nullable=False),
        sa.Column("released_at", sa.DateTime),
    )
    op.create_index("ix_legal_holds_subject_hash", "legal_holds", ["subject_hash"])


def downgrade() -> None:
    op.drop_table("legal_holds")
    op.drop_table("data_subject_requests")
    op.create_index("ix_suppression_key_hash", "suppression_list", ["key_hash"])
    for column in ("do_not_call", "hash_key_id", "domain_hash", "phone_hash", "email_hash"):
        op.drop_column("prospects", column)
