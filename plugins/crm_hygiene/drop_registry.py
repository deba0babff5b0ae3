"""What every inbox drop shares: processed once by content hash, rejected
loudly with an audit row, and bad rows kept in quarantine with their reasons."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Connection, DateTime, Engine, bindparam, text

from crm_hygiene.audit import write_audit
from crm_hygiene.bulk import bulk_insert
from crm_hygiene.ingest import files
from crm_hygiene.ingest.reader import read_header
from crm_hygiene.run import RunInfo, utc_now

T = TypeVar("T")


@dataclass
class DropTally:
    """What a run did with the files of one inbox (summaries extend it)."""

    files_loaded: int = 0
    files_already_processed: int = 0
    rejected: dict[str, str] = field(default_factory=dict)  # file name -> reason
    rows_quarantined: int = 0

    def files_dict(self) -> dict:
        """File names and counts only: safe for XCom and logs."""
        return {
            "files_loaded": self.files_loaded, "files_already_processed": self.files_already_processed,
            "files_rejected": len(self.rejected), "rejected": dict(self.rejected),
            "rows_quarantined": self.rows_quarantined,
        }

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


def record_small_drop(
    conn: Connection, kind: str, path: Path, sha256: str, archived_as: Path, run: RunInfo,
    rows_good: int, bad: list[tuple], what: str,
) -> None:
    """Quarantine a small drop's bad rows, register the drop and audit the quarantine
    (`what` names the rows, e.g. "request rows"; counts only, never values)."""
    quarantine_rows(conn, bad)
    register_drop(conn, kind, path, sha256, archived_as, run,
                  rows_read=rows_good + len(bad), rows_quarantined=len(bad))
    if bad:
        write_audit(conn, run, "quarantine_rows", subject_ref=f"file:{sha256}",
                    reason=f"{what} failed checks", rows_affected=len(bad))


def csv_rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """(data row number, row by normalised header) of a small drop; FileRejected
    (before any row) when a required column is missing."""
    header = read_header(path)
    missing = [c for c in required if c not in header]
    if missing:
        raise files.FileRejected(f"required column(s) missing: {', '.join(missing)}")
    return _rows(path, header)


def _rows(path: Path, header: list[str]) -> Iterator[tuple[int, dict[str, str]]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        for row_number, cells in enumerate(reader, start=1):
            yield row_number, dict(zip(header, cells, strict=False))


def new_drops(
    engine: Engine, run: RunInfo, inbox: Path, archive_dir: Path, read: Callable[[Path, str], T], summary,
) -> Iterator[tuple[Path, str, Path, T]]:
    """Each pending drop not processed before, as (path, sha256, archive target, read(path, sha256)).

    Bytes seen before are archived and counted in ``summary.files_already_processed``;
    a file whose `read` raises FileRejected is set aside, audited and named in
    ``summary.rejected``. The caller registers and archives what it is given.
    """
    for path in files.pending_files(inbox):
        sha256 = files.sha256_of(path)
        archived_as = files.archive_target(path, archive_dir, sha256)
        if already_processed(engine, sha256):
            files.archive(path, archived_as)
            summary.files_already_processed += 1
            continue
        try:
            content = read(path, sha256)
        except files.FileRejected as exc:
            reject_drop(engine, run, path, str(exc))
            summary.rejected[path.name] = str(exc)
            continue
        yield path, sha256, archived_as, content
