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


# The staged columns a later statement joins or filters on: the identity links
# (01-04), the fold into candidates (05), the suppression look-ups, the sources
# insert. Statistics on the other twenty-odd columns would cost most of the
# ANALYZE and change no plan.
_STAGE_LOOKUP_COLUMNS = ("identity_key", "email_match_key", "phone_e164", "name_key", "company_key",
                         "email_hash", "domain_hash", "phone_hash", "row_number")
# ... and the candidate columns the gates and the writes join or filter on.
_CANDIDATE_LOOKUP_COLUMNS = ("identity_key", "admission", "admission_reason", "minor_verdict")


def _analyze(conn: Connection, table: str, columns: tuple[str, ...]) -> None:
    # Temporary tables are never auto-analysed: without statistics PostgreSQL
    # plans the joins blind. SQLite's ANALYZE takes no column list (and on a
    # table without indexes it only counts the rows).
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"ANALYZE {table} ({', '.join(columns)})"))
    else:
        conn.execute(text(f"ANALYZE {table}"))


def index_staging(conn: Connection) -> None:
    """Statistics for the staged rows, once they are all in. No index yet: the
    links are grouped joins, which hash, and the fold into candidates sorts."""
    _analyze(conn, "stg_rows", _STAGE_LOOKUP_COLUMNS)


def index_candidates(conn: Connection) -> None:
    """After the fold: candidates are looked up by identity from here on."""
    conn.execute(text("CREATE INDEX ix_stg_candidates_identity ON stg_candidates (identity_key)"))
    _analyze(conn, "stg_candidates", _CANDIDATE_LOOKUP_COLUMNS)
    if conn.dialect.name == "sqlite":
        # SQLite joins by nested loops: with this index the sources insert walks
        # the candidates in identity order and finds each one's rows and its
        # prospect in order (1.7 s for 188k rows); without it, in file order,
        # every look-up into prospects' match_key index lands on a page of its
        # own (4.5 s). PostgreSQL hashes that join and never reads the index.
        conn.execute(text("CREATE INDEX ix_stg_rows_identity ON stg_rows (identity_key)"))
        conn.execute(text("ANALYZE stg_rows"))


STAGING_TABLES = ("stg_suppression_hits", "stg_candidates", "stg_other_key_hashes", "stg_rows")


def drop_staging(conn: Connection) -> None:
    for table in STAGING_TABLES:
        conn.execute(text(f"DROP TABLE IF EXISTS {table}"))


def load_staged(conn: Connection, prepared: PreparedChunk) -> None:
    bulk_insert(conn, "stg_rows", STAGE_COLUMNS, prepared.staged, copy_text=prepared.copy_csv)
    if prepared.other_key_hashes:
        bulk_insert(conn, "stg_other_key_hashes", OTHER_KEY_HASH_COLUMNS, prepared.other_key_hashes)
