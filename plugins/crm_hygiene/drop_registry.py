"""What every inbox drop shares: processed once by content hash, rejected
loudly with an audit row, and bad rows kept in quarantine with their reasons."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, DateTime, Engine, bindparam, text

from crm_hygiene.audit import write_audit
from crm_hygiene.bulk import bulk_insert
from crm_hygiene.ingest import files
from crm_hygiene.run import RunInfo, utc_now

QUARANTINE_COLUMNS = (
    "kind", "source_file", "file_sha256", "row_number", "reasons", "raw_row", "email_match_key", "quarantined_at",
)


def already_processed(engine: Engine, sha256: str) -> bool:
    """Whether a drop with these bytes was processed before (of any kind)."""
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT 1 FROM ingested_files WHERE sha256 = :sha"), {"sha": sha256}
        ).first() is not None


def reject_drop(engine: Engine, run: RunInfo, path: Path, reason: str) -> None:
    """Set an unreadable drop aside (``rejected/`` + ``.reason.txt``) and audit it."""
    files.reject(path, reason)
    with engine.begin() as conn:
        write_audit(conn, run, "file_rejected", subject_ref=f"file:{path.name}", reason=reason)


def quarantine_rows(conn: Connection, rows: list[tuple]) -> int:
    """Insert quarantine rows (tuples in QUARANTINE_COLUMNS order); returns how many."""
    bulk_insert(conn, "quarantine", QUARANTINE_COLUMNS, rows)
    return len(rows)


_REGISTER = text(
    "INSERT INTO ingested_files (kind, file_name, sha256, size_bytes, archived_as, dag_id, run_id, processed_at, "
    "rows_read, rows_quarantined) VALUES (:kind, :file_name, :sha256, :size_bytes, :archived_as, :dag_id, "
    ":run_id, :processed_at, :rows_read, :rows_quarantined) RETURNING file_id"
).bindparams(bindparam("processed_at", type_=DateTime))


def register_drop(
    conn: Connection, kind: str, path: Path, sha256: str, archived_as: Path, run: RunInfo,
    rows_read: int = 0, rows_quarantined: int = 0,
) -> int:
    """Record a processed drop (what makes the same bytes a no-op next time); returns its file_id."""
    return conn.execute(_REGISTER, {
        "kind": kind, "file_name": path.name, "sha256": sha256, "size_bytes": path.stat().st_size,
        "archived_as": archived_as.name, "dag_id": run.dag_id, "run_id": run.run_id, "processed_at": utc_now(),
        "rows_read": rows_read, "rows_quarantined": rows_quarantined,
    }).scalar_one()
