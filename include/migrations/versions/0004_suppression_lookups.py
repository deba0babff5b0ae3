"""Fast suppression of held people: hash indexes on SQLite, room for status changes on PostgreSQL.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24

Measured with a 100,000-key list against 1,000,000 held people (make bench):

* SQLite has no hash join, so it scanned every person once per key type in the
  list (2.0 s for emails alone). Indexes on the keyed hashes let a list be
  matched from its own side, one probe per key (0.2 s). They cost its bulk
  ingest about 7-8 s per index per million new people (inserted in random
  order), paid once, while lists arrive daily.
* PostgreSQL hash-joins a big list against a sequential scan just as fast with
  or without those indexes (2.7-3.0 s for the whole apply either way), and the
  email-hash index alone added 6.4 s to inserting a million people, so it gets
  none. What it needed was room on each page: see fillfactor below.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Most people have no phone number: the partial index holds only those who do.
HAS_PHONE_HASH = "phone_hash IS NOT NULL"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.create_index("ix_prospects_email_hash", "prospects", ["email_hash"])
        op.create_index("ix_prospects_domain_hash", "prospects", ["domain_hash"])
        op.create_index("ix_prospects_phone_hash", "prospects", ["phone_hash"],
                        sqlite_where=sa.text(HAS_PHONE_HASH))
        return
    # A status change (suppression, restriction, review) rewrites a row in
    # place only if its page has room: 10% free lets PostgreSQL make it a
    # heap-only update that touches none of the indexes (measured: 1.9 s ->
    # 0.9 s for 50,000 people suppressed at once; inserting a million people
    # took no longer). Applies to pages written from now on; VACUUM FULL
    # prospects repacks an existing table.
    op.execute("ALTER TABLE prospects SET (fillfactor = 90)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index("ix_prospects_phone_hash", table_name="prospects")
        op.drop_index("ix_prospects_domain_hash", table_name="prospects")
        op.drop_index("ix_prospects_email_hash", table_name="prospects")
        return
    op.execute("ALTER TABLE prospects RESET (fillfactor)")
