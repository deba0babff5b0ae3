"""Minor review queue: likely minors wait here for a person's decision.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # One row per question asked. prospect_id is not a foreign key: the row
    # outlives the person when the answer (or the timeout) removes them, and
    # holds only ids and rule names, never the values that fired the rules.
    op.create_table(
        "minor_reviews",
        sa.Column("review_id", ID, primary_key=True, autoincrement=True),
        sa.Column("prospect_id", ID, nullable=False),
        sa.Column("signals", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("queued_at", sa.DateTime, nullable=False),
        sa.Column("decided_at", sa.DateTime),
        sa.Column("decided_by", sa.String(128)),
        sa.CheckConstraint("status IN ('open', 'adult', 'minor', 'expired')", name="ck_minor_reviews_status"),
    )
    op.create_index("ix_minor_reviews_prospect", "minor_reviews", ["prospect_id", "status"])
    op.create_index("ix_minor_reviews_status_queued", "minor_reviews", ["status", "queued_at"])


def downgrade() -> None:
    op.drop_table("minor_reviews")
