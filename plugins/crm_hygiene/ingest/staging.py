"""Bulk-load prepared rows into a per-transaction staging table.

PostgreSQL gets COPY, SQLite gets one executemany per chunk: no row-by-row ORM
writes. The staging table is temporary and lives only inside the file's
transaction.
"""

from __future__ import annotations

import io

import pandas as pd
from sqlalchemy import Connection, text

from crm_hygiene.ingest.rows import STAGE_COLUMNS

_TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # the form SQLAlchemy writes on SQLite

_INTEGER = {"row_number", "basis_rank", "marketing_consent", "email_is_personal", "email_is_role",
            "email_is_disposable", "referred_only", "age"}
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
    conn.execute(text("DROP TABLE IF EXISTS stg_candidates"))
    conn.execute(text("DROP TABLE IF EXISTS stg_rows"))
    columns = ", ".join(f"{c} {_sql_type(c, dialect)}" for c in STAGE_COLUMNS)
    conn.execute(text(f"CREATE TEMPORARY TABLE stg_rows ({columns})"))


def index_staging(conn: Connection) -> None:
    """Indexes built once after the load, cheaper than maintaining them per row."""
    conn.execute(text("CREATE INDEX ix_stg_rows_identity ON stg_rows (identity_key)"))
    conn.execute(text("CREATE INDEX ix_stg_rows_phone ON stg_rows (phone_e164)"))
    conn.execute(text("CREATE INDEX ix_stg_rows_name ON stg_rows (name_key, company_key)"))
    # Temporary tables are never auto-analysed: without statistics PostgreSQL
    # plans the correlated lookups as repeated full scans (quadratic).
    conn.execute(text("ANALYZE stg_rows"))


def index_candidates(conn: Connection) -> None:
    conn.execute(text("CREATE INDEX ix_stg_candidates_identity ON stg_candidates (identity_key)"))
    conn.execute(text("ANALYZE stg_candidates"))


def drop_staging(conn: Connection) -> None:
    conn.execute(text("DROP TABLE IF EXISTS stg_candidates"))
    conn.execute(text("DROP TABLE IF EXISTS stg_rows"))


def _wire_frame(staged: pd.DataFrame) -> pd.DataFrame:
    """Every value as text or None, timestamps in one fixed format."""
    out = staged.copy()
    for column in _TIMESTAMP:
        out[column] = pd.to_datetime(out[column]).dt.strftime(_TIMESTAMP_FORMAT)
    for column in _DATE:
        out[column] = out[column].map(lambda d: d.isoformat() if d is not None and not pd.isna(d) else None)
    for column in _INTEGER:
        out[column] = out[column].astype("Int64")
    return out.astype(object).where(out.notna(), None)


def load_staged(conn: Connection, staged: pd.DataFrame) -> int:
    if staged.empty:
        return 0
    wire = _wire_frame(staged)
    columns = ", ".join(STAGE_COLUMNS)
    if conn.dialect.name == "postgresql":
        buffer = io.StringIO()
        wire.to_csv(buffer, index=False, header=False)
        raw = conn.connection.dbapi_connection
        with raw.cursor() as cur, cur.copy(f"COPY stg_rows ({columns}) FROM STDIN (FORMAT csv)") as copy:
            copy.write(buffer.getvalue())
    else:
        placeholders = ", ".join("?" for _ in STAGE_COLUMNS)
        raw = conn.connection.dbapi_connection
        # Column names come from STAGE_COLUMNS, a constant; values are bound.
        insert = f"INSERT INTO stg_rows ({columns}) VALUES ({placeholders})"  # noqa: S608
        raw.executemany(insert, wire.itertuples(index=False))
    return len(staged)
