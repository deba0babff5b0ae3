"""The register of drops: which bytes were processed (so the same bytes are a
no-op next time), and the audit rows of files set aside."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import Connection, DateTime, Engine, bindparam, text

from crm_hygiene.audit import write_audit
from crm_hygiene.drops import files
from crm_hygiene.run import RunInfo, utc_now


class Drop(NamedTuple):
    """A file taken from an inbox: what it is, where it goes once processed."""

    kind: str
    path: Path
    sha256: str
    archived_as: Path

    @classmethod
    def of(cls, kind: str, path: Path, archive_dir: Path) -> Drop:
        """The drop for a file outside the inbox loop (benchmarks, tools)."""
        sha256 = files.sha256_of(path)
        return cls(kind, path, sha256, files.archive_target(path, archive_dir, sha256))

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def subject_ref(self) -> str:
        """How the audit log names a drop: by its content hash, never its rows."""
        return f"file:{self.sha256}"


@dataclass
class DropTally:
    """What a run did with the files of one inbox (each feature's summary extends it)."""

    files_loaded: int = 0
    files_already_processed: int = 0
    rejected: dict[str, str] = field(default_factory=dict)  # file name -> reason
    set_aside: dict[str, str] = field(default_factory=dict)  # file name -> unforeseen error's type
    rows_quarantined: int = 0

    def files_dict(self) -> dict:
        """File names and counts only: safe for XCom and logs."""
        return {
            "files_loaded": self.files_loaded, "files_already_processed": self.files_already_processed,
            "files_rejected": len(self.rejected), "rejected": dict(self.rejected),
            "files_set_aside": len(self.set_aside), "set_aside": dict(self.set_aside),
            "rows_quarantined": self.rows_quarantined,
        }


def already_processed(engine: Engine, sha256: str) -> bool:
    """Whether a drop with these bytes was processed before (of any kind)."""
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT 1 FROM ingested_files WHERE sha256 = :sha"), {"sha": sha256}
        ).first() is not None


_REGISTER = text(
    "INSERT INTO ingested_files (kind, file_name, sha256, size_bytes, archived_as, dag_id, run_id, processed_at, "
    "rows_read, rows_quarantined) VALUES (:kind, :file_name, :sha256, :size_bytes, :archived_as, :dag_id, "
    ":run_id, :processed_at, :rows_read, :rows_quarantined) RETURNING file_id"
).bindparams(bindparam("processed_at", type_=DateTime))


def register_drop(conn: Connection, drop: Drop, run: RunInfo, rows_read: int = 0, rows_quarantined: int = 0) -> int:
    """Record a processed drop in the caller's transaction; returns its file_id."""
    return conn.execute(_REGISTER, {
        "kind": drop.kind, "file_name": drop.name, "sha256": drop.sha256, "size_bytes": drop.path.stat().st_size,
        "archived_as": drop.archived_as.name, "dag_id": run.dag_id, "run_id": run.run_id,
        "processed_at": utc_now(), "rows_read": rows_read, "rows_quarantined": rows_quarantined,
    }).scalar_one()


def audit_once(engine: Engine, run: RunInfo, action: str, subject_ref: str, reason: str) -> None:
    """One audit row per (action, file, run): a run re-tried after a crash between
    the audit row and the file's move does not count the file twice."""
    with engine.begin() as conn:
        seen = conn.execute(text(
            "SELECT 1 FROM audit_log WHERE action = :a AND subject_ref = :s AND run_id = :r"),
            {"a": action, "s": subject_ref, "r": run.run_id}).first()
        if seen is None:
            write_audit(conn, run, action, subject_ref=subject_ref, reason=reason)
