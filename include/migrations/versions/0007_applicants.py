"""Job applicants, kept apart from prospects.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30

Privacy policy, "Job applicants": an applicant's details serve recruitment
only, so they live in their own table, never in ``prospects``, never matched
or merged with a prospect, never in ``marketing_prospects`` or a partner
aggregate. ``applicant_id`` is the drop's own id (a later drop with the same
id updates that applicant). ``retain_for_future_roles`` and ``dispute`` are
the policy's reasons to keep an unsuccessful applicant longer; the retention
sweep reads them with ``status`` and ``decided_at``.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "applicants",
        sa.Column("applicant_id", sa.String(128), primary_key=True),
        sa.Column("email", sa.Text, nullable=False),
        # The contract's match key: an erasure or a legal hold finds the applicant by it.
        sa.Column("email_match_key", sa.Text, nullable=False),
        sa.Column("first_name", sa.Text),
        sa.Column("last_name", sa.Text),
        sa.Column("phone_e164", sa.String(16)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("applied_at", sa.DateTime, nullable=False),
        sa.Column("decided_at", sa.DateTime),
        sa.Column("retain_for_future_roles", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("dispute", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("file_id", ID),  # the drop that last wrote the row (ingested_files)
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.CheckConstraint("status IN ('pending', 'hired', 'rejected')", name="ck_applicants_status"),
        # A decision has a date: the retention clock of a rejected applicant starts on it.
        sa.CheckConstraint("status = 'pending' OR decided_at IS NOT NULL", name="ck_applicants_decided_at"),
    )
    op.create_index("ix_applicants_email_match_key", "applicants", ["email_match_key"])


def downgrade() -> None:
    op.drop_index("ix_applicants_email_match_key", table_name="applicants")
    op.drop_table("applicants")
