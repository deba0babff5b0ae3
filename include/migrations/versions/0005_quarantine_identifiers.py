"""Quarantined rows carry every identifier an erasure looks them up by.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30

Until now only the email match key was kept beside a quarantined row, so an
erasure missed the person's rows that had no (or a malformed) email, and a
phone-scope erasure purged none. The row's phone (E.164 where it parses, else
its digits) and its name-plus-company key are kept too, each indexed: an
erasure probes them, and the table only grows by bad rows.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("quarantine", sa.Column("phone_key", sa.Text))
    op.add_column("quarantine", sa.Column("name_company_key", sa.Text))
    op.create_index("ix_quarantine_phone_key", "quarantine", ["phone_key"])
    op.create_index("ix_quarantine_name_company_key", "quarantine", ["name_company_key"])


def downgrade() -> None:
    op.drop_index("ix_quarantine_name_company_key", table_name="quarantine")
    op.drop_index("ix_quarantine_phone_key", table_name="quarantine")
    op.drop_column("quarantine", "name_company_key")
    op.drop_column("quarantine", "phone_key")
