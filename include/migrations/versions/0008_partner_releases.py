"""Partner releases: what left the company, frozen, and the privacy budget spent.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30

One row per (partner, report, period) released: the exact CSV and manifest
that left (aggregates only: counts of at least the policy's cell size, no
person), their sha256, the suppression pattern (cell keys per measure, carried
forward to the next period so two releases cannot be subtracted) and, for a
partner in differential-privacy mode, the epsilon the release spent. A re-run
for a period already released writes these same bytes again and spends
nothing; the sum of ``epsilon`` per partner is the budget ledger OpenDP cannot
keep across runs.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "partner_releases",
        sa.Column("release_id", ID, primary_key=True, autoincrement=True),
        sa.Column("partner", sa.String(64), nullable=False),
        sa.Column("report", sa.String(64), nullable=False),
        sa.Column("period", sa.Date, nullable=False),
        sa.Column("mode", sa.String(32), nullable=False),
        sa.Column("epsilon", sa.Float, nullable=False, server_default="0"),
        sa.Column("suppressed", sa.Text, nullable=False),  # JSON: measure -> [cell key, ...]
        sa.Column("csv_text", sa.Text, nullable=False),
        sa.Column("manifest_text", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("policy_version", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(250)),
        sa.Column("released_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("partner", "report", "period", name="uq_partner_release_period"),
        sa.CheckConstraint("mode IN ('suppression', 'differential_privacy')", name="ck_partner_release_mode"),
        sa.CheckConstraint("epsilon >= 0", name="ck_partner_release_epsilon"),
    )


def downgrade() -> None:
    op.drop_table("partner_releases")
