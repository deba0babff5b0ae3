"""Bulk-load prepared rows into a per-transaction staging table.

PostgreSQL gets COPY, SQLite gets one executemany per chunk: no row-by-row ORM
writes. The staging table is temporary and lives only inside the file's
transaction.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from crm_hygiene.bulk import bulk_insert
from crm_hygiene.db import use_large_work_mem
from crm_hygiene.ingest.rows import OTHER_KEY_HASH_COLUMNS, STAGE_COLUMNS, PreparedChunk

_INTEGER = {"row_number", "basis_rank", "marketing_consent", "email_is_personal", "email_is_role",
            "email_is_disposable", "referred_only", "age", "minor_verdict"}
_TIMESTAMP = {"seen_at"}
_DATE = {"notice_due_at", "date_of_birth"}


def _sql_type(column: str, dialect: str) -> str:
    if column in _INTEGER:
        return "INTEGER"
    if column in _TIMESTAMP:
        return "TIMESTAMP" if dialect == "postgresql" else "TEXT"
    if column in _DATE:
        return "DATE" if dialect == "postgresql" else "TEXT"
    return "TEXT"


def create_staging(conn: Connection) -> None:
    dialect = conn.dialect.name
    use_large_work_mem(conn)
    drop_staging(conn)
    columns = ", ".join(f"{c} {_sql_type(c, dialect)}" for c in STAGE_COLUMNS)
    conn.execute(text(f"CREATE TEMPORARY TABLE stg_rows ({columns})"))
    conn.execute(text("CREATE TEMPORARY TABLE stg_other_key_hashes (row_number INTEGER, key_type TEXT, key_hash TEXT)"))


def index_staging(conn: Connection) -> None:
    """Indexes built once after the load, cheaper than maintaining them per row."""
    # Only identity_key is looked up row by row (survivorship); the phone and
    # name links are grouped joins, which hash rather than use an index.
    conn.execute(text("CREATE INDEX ix_stg_rows_identity ON stg_rows (identity_key)"))
    # Temporary tables are never auto-analysed: without statistics PostgreSQL
    # plans the joins blind.
    conn.execute(text("ANALYZE stg_rows"))


def index_candidates(conn: Connection) -> None:
    conn.execute(text("CREATE INDEX ix_stg_candidates_identity ON stg_candidates (identity_key)"))
    conn.execute(text("ANALYZE stg_candidates"))


STAGING_TABLES = ("stg_suppression_hits", "stg_candidates", "stg_other_key_hashes", "stg_rows")


def drop_staging(conn: Connection) -> None:
    for table in STAGING_TABLES:
        conn.execute(text(f"DROP TABLE IF EXISTS {table}"))


def load_staged(conn: Connection, prepared: PreparedChunk) -> None:
    bulk_insert(conn, "stg_rows", STAGE_COLUMNS, prepared.staged, copy_text=prepared.copy_csv)
    if prepared.other_key_hashes:
        bulk_insert(conn, "stg_other_key_hashes", OTHER_KEY_HASH_COLUMNS, prepared.other_key_hashes)
