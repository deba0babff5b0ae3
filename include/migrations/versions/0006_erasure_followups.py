"""Erasures finish what they start: a durable to-do, reviews closed, ids never reused.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30

* ``erasure_followups``: written inside an erasure's transaction, emptied after
  its commit. It names the answer files to delete (exports/dsr/<request_id>.json,
  a request id is not personal data) and the erased identifiers as keyed hashes
  only (email match key, E.164 phone, name_key|company_key), which the drop
  scrubber matches against archived and rejected drops. A crash after the commit
  leaves the rows behind and the next run that erases finishes the job.
* ``minor_reviews.status`` gains ``erased``: an erasure closes the open reviews of
  the people it removes, so a review timeout can never act on the id later.
* SQLite: ``prospects`` and ``ingested_files`` get ``AUTOINCREMENT``. Without it
  SQLite hands the highest deleted id to the next insert, so an erased person's
  id (still named by minor_reviews, data_subject_requests, audit_log) went to a
  stranger. The tables are rebuilt from their own stored definition (every
  CHECK, UNIQUE and index, the partial phone_hash index included) and the id
  counter starts above every id any table still names. PostgreSQL sequences
  never hand an id out twice.
"""

import re

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
HASH = sa.String(64)

REVIEW_STATUSES_BEFORE = "('open', 'adult', 'minor', 'expired')"
REVIEW_STATUSES = "('open', 'adult', 'minor', 'expired', 'erased')"

# Each rebuilt table, its id column, and every (table, column) naming its ids:
# the new counter starts above all of them.
_AUTOINCREMENT = {
    "prospects": ("prospect_id", (("prospect_sources", "prospect_id"), ("minor_reviews", "prospect_id"),
                                  ("data_subject_requests", "prospect_id"))),
    "ingested_files": ("file_id", (("prospect_sources", "file_id"), ("data_subject_requests", "file_id"))),
}
_VIEWS_ON_PROSPECTS = ("marketing_prospects",)
_REBUILT = "{}__rebuilt"


def upgrade() -> None:
    op.create_table(
        "erasure_followups",
        sa.Column("followup_id", ID, primary_key=True, autoincrement=True),
        # answer_file: delete `answer_file`; scrub_key: drop rows carrying this hash.
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("answer_file", sa.Text),
        sa.Column("key_type", sa.String(16)),
        sa.Column("key_hash", HASH),
        sa.Column("key_id", sa.String(32)),
        sa.Column("subject_ref", sa.Text),
        sa.Column("queued_at", sa.DateTime, nullable=False),
        sa.CheckConstraint("kind IN ('answer_file', 'scrub_key')", name="ck_erasure_followups_kind"),
        sa.CheckConstraint("key_type IS NULL OR key_type IN ('email', 'phone', 'name_company')",
                           name="ck_erasure_followups_key_type"),
    )
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_upgrade()
        return
    op.drop_constraint("ck_minor_reviews_status", "minor_reviews", type_="check")
    op.create_check_constraint("ck_minor_reviews_status", "minor_reviews", f"status IN {REVIEW_STATUSES}")


def downgrade() -> None:
    op.drop_table("erasure_followups")
    if op.get_bind().dialect.name == "sqlite":
        _rebuild("minor_reviews", lambda sql: sql.replace(REVIEW_STATUSES, REVIEW_STATUSES_BEFORE))
        return
    op.drop_constraint("ck_minor_reviews_status", "minor_reviews", type_="check")
    op.create_check_constraint("ck_minor_reviews_status", "minor_reviews", f"status IN {REVIEW_STATUSES_BEFORE}")


def _sqlite_upgrade() -> None:
    bind = op.get_bind()
    views = {name: bind.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'view' AND name = ?",
                                        (name,)).scalar_one() for name in _VIEWS_ON_PROSPECTS}
    # SQLite refuses to rename a table while a view names a missing one.
    for name in views:
        op.execute(f"DROP VIEW {name}")
    for table, (id_column, referrers) in _AUTOINCREMENT.items():
        _rebuild(table, lambda sql, c=id_column: _with_autoincrement(sql, c))
        highest = " UNION ALL ".join(f"SELECT MAX({c}) AS id FROM {t}"  # noqa: S608 - constants above
                                     for t, c in ((table, id_column), *referrers))
        op.execute(f"DELETE FROM sqlite_sequence WHERE name = '{table}'")  # noqa: S608
        op.execute(f"INSERT INTO sqlite_sequence (name, seq) SELECT '{table}', COALESCE(MAX(id), 0) "  # noqa: S608
                   f"FROM ({highest}) AS ids")
    for sql in views.values():
        op.execute(sql)
    _rebuild("minor_reviews", lambda sql: sql.replace(REVIEW_STATUSES_BEFORE, REVIEW_STATUSES))


def _with_autoincrement(sql: str, id_column: str) -> str:
    """The stored CREATE TABLE with the id declared INTEGER PRIMARY KEY AUTOINCREMENT."""
    column = re.compile(rf"\b{id_column} INTEGER NOT NULL,")
    table_key = re.compile(rf",\s*PRIMARY KEY \({id_column}\)")
    if not column.search(sql) or not table_key.search(sql):
        raise RuntimeError(f"unexpected definition of {id_column}; rebuild by hand")
    sql = column.sub(f"{id_column} INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,", sql, count=1)
    return table_key.sub("", sql, count=1)


def _rebuild(table: str, transform) -> None:
    """SQLite's table rebuild: new table from the transformed stored definition,
    rows copied, old table dropped, new renamed, the same indexes re-created."""
    bind = op.get_bind()
    sql = bind.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
                               (table,)).scalar_one()
    indexes = bind.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
                                   "AND sql IS NOT NULL", (table,)).scalars().all()
    new_sql = transform(sql)
    if new_sql == sql:
        raise RuntimeError(f"the definition of {table} was not as expected; rebuild by hand")
    rebuilt = _REBUILT.format(table)
    header = re.compile(rf"^CREATE TABLE \"?{table}\"? \(")
    op.execute(header.sub(f"CREATE TABLE {rebuilt} (", new_sql, count=1))
    op.execute(f"INSERT INTO {rebuilt} SELECT * FROM {table}")  # noqa: S608 - same columns, same order
    op.execute(f"DROP TABLE {table}")
    op.execute(f"ALTER TABLE {rebuilt} RENAME TO {table}")
    for index_sql in indexes:
        op.execute(index_sql)
