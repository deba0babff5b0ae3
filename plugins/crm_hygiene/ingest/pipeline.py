"""Ingest every pending drop of one kind: the function an ingest DAG calls.

Per file: fingerprint it (a file is processed once), read its header and first
chunk, gate it with Great Expectations, then in ONE transaction stage all its
rows, quarantine the bad ones, merge duplicates and admit people into the CRM,
and write the audit log. Only after the commit is the file moved to archive/.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import Connection, Engine, text

from crm_hygiene.admission import admit_candidates
from crm_hygiene.audit import write_audit
from crm_hygiene.db import read_sql
from crm_hygiene.drop_registry import already_processed, quarantine_rows, register_drop, reject_drop
from crm_hygiene.erasure_files import complete_pending_erasures
from crm_hygiene.ingest import files, staging
from crm_hygiene.ingest.gate import gate_failures
from crm_hygiene.ingest.kinds import DropKind
from crm_hygiene.ingest.parallel import prepared_chunks, worker_count
from crm_hygiene.ingest.reader import iter_chunks, read_header
from crm_hygiene.ingest.rows import RawChunk, wire_timestamp
from crm_hygiene.keys import HashKeys
from crm_hygiene.policy import Policy
from crm_hygiene.run import RunInfo, utc_now

log = logging.getLogger(__name__)


@dataclass
class FileCounts:
    rows_read: int = 0
    rows_quarantined: int = 0
    rows_admitted: int = 0
    rows_blocked: int = 0
    prospects_created: int = 0
    prospects_updated: int = 0
    minors_removed: int = 0  # held records deleted: a row showed them under age
    minor_reviews_queued: int = 0
    special_category_redactions: int = 0  # free-text cells with special-category data removed

    @property
    def rows_merged(self) -> int:
        """Admitted rows that folded into a person already in the file or the CRM."""
        return self.rows_admitted - self.prospects_created


@dataclass
class IngestSummary:
    kind: str
    files_loaded: int = 0
    files_already_processed: int = 0
    rejected: dict[str, str] = field(default_factory=dict)  # file name -> reason
    totals: FileCounts = field(default_factory=FileCounts)

    def add(self, counts: FileCounts) -> None:
        for name, value in asdict(counts).items():
            setattr(self.totals, name, getattr(self.totals, name) + value)

    def as_dict(self) -> dict:
        """Counts and file names only: safe for XCom and logs."""
        return {
            "kind": self.kind,
            "files_loaded": self.files_loaded,
            "files_already_processed": self.files_already_processed,
            "files_rejected": len(self.rejected),
            "rejected": dict(self.rejected),
            **asdict(self.totals),
            "rows_merged": self.totals.rows_merged,
        }


# Link rows to one identity per person, then fold them into one candidate each.
IDENTITY_STEPS = (
    "01_link_phone_in_file", "02_link_phone_to_held",
    "03_link_name_in_file", "04_link_name_to_held",
    "05_build_candidates",
)

_FILE_COUNTS = text(
    "UPDATE ingested_files SET rows_read = :rows_read, rows_quarantined = :rows_quarantined, "
    "rows_admitted = :rows_admitted, rows_blocked = :rows_blocked, "
    "prospects_created = :prospects_created, prospects_updated = :prospects_updated WHERE file_id = :file_id"
)

def _quarantine(conn: Connection, kind: DropKind, path: Path, sha256: str, rows) -> int:
    now = wire_timestamp(utc_now())
    return quarantine_rows(conn, [
        (kind.name, path.name, sha256, row_number, reasons, raw, key, now)
        for row_number, reasons, raw, key in rows
    ])


def _load_file(
    conn: Connection, path: Path, sha256: str, archived_as: Path, kind: DropKind,
    chunks, policy: Policy, keys: HashKeys, run: RunInfo, workers: int,
) -> FileCounts:
    counts = FileCounts()
    file_id = register_drop(conn, kind.name, path, sha256, archived_as, run)
    staging.create_staging(conn)
    redacted: dict[str, int] = {}
    for prepared in prepared_chunks(chunks, kind, policy, run.today, keys, workers, conn.dialect.name):
        counts.rows_read += prepared.n_read
        for category, n in prepared.special_category_hits.items():
            redacted[category] = redacted.get(category, 0) + n
        counts.rows_quarantined += _quarantine(conn, kind, path, sha256, prepared.quarantined)
        staging.load_staged(conn, prepared)
    counts.special_category_redactions = sum(redacted.values())
    staging.index_staging(conn)
    for step in IDENTITY_STEPS:
        conn.execute(text(read_sql(f"ingest/{step}.sql")))
    staging.index_candidates(conn)
    conn.execute(text(read_sql("ingest/06_fill_candidate_gaps.sql")))
    result = admit_candidates(conn, policy, keys, run, file_id)
    admitted_rows = conn.execute(text(
        "SELECT COALESCE(SUM(n_rows), 0) FROM stg_candidates WHERE admission = 'admit'"
    )).scalar_one()
    counts.rows_admitted = int(admitted_rows)
    counts.rows_blocked = counts.rows_read - counts.rows_quarantined - counts.rows_admitted
    counts.prospects_created, counts.prospects_updated = result.created, result.updated
    counts.minors_removed, counts.minor_reviews_queued = result.minors_removed, result.minor_reviews_queued
    staging.drop_staging(conn)
    conn.execute(_FILE_COUNTS, {"file_id": file_id, **asdict(counts)})
    details = {**asdict(counts), **{f"blocked_{k}": v for k, v in result.blocked.items()}}
    write_audit(conn, run, "ingest_file", subject_ref=f"file:{sha256}", reason=kind.name,
                rows_affected=counts.rows_admitted, details=details)
    if redacted:
        write_audit(conn, run, "redact_special_category", subject_ref=f"file:{sha256}",
                    reason="special-category data removed from free text before storage",
                    rows_affected=counts.special_category_redactions, details={"cells_by_category": redacted})
    if counts.rows_quarantined:
        write_audit(conn, run, "quarantine_rows", subject_ref=f"file:{sha256}",
                    reason="row checks failed", rows_affected=counts.rows_quarantined)
    return counts


def ingest_file(
    engine: Engine, path: Path, kind: DropKind, policy: Policy, keys: HashKeys, run: RunInfo,
    archive_dir: Path, workers: int | None = None,
) -> FileCounts | None:
    """Ingest one drop; None if these bytes were processed before (then just archived).

    Raises files.FileRejected when the file cannot be read or fails the gate.
    """
    sha256 = files.sha256_of(path)
    if already_processed(engine, sha256):
        files.archive(path, files.archive_target(path, archive_dir, sha256))
        return None
    header = read_header(path)
    chunks = iter_chunks(path, header)
    first = next(chunks, None) or RawChunk({name: [] for name in header}, 1, 0)
    failures = gate_failures(first, kind, policy)
    if failures:
        raise files.FileRejected("; ".join(failures))
    all_chunks = itertools.chain([first] if first.n_rows else [], chunks)
    archived_as = files.archive_target(path, archive_dir, sha256)
    with engine.begin() as conn:
        counts = _load_file(conn, path, sha256, archived_as, kind, all_chunks, policy, keys, run,
                            workers or worker_count(path.stat().st_size))
    files.archive(path, archived_as)
    return counts


def ingest_inbox(
    engine: Engine, kind: DropKind, policy: Policy, keys: HashKeys, run: RunInfo, inbox: Path,
    archive_dir: Path, workers: int | None = None,
) -> IngestSummary:
    """Ingest every pending file; rejected files are set aside and reported, not raised."""
    summary = IngestSummary(kind=kind.name)
    complete_pending_erasures(engine, policy, keys, run)  # a crashed run's answer files and drops
    for path in files.pending_files(inbox):
        try:
            counts = ingest_file(engine, path, kind, policy, keys, run, archive_dir, workers)
        except files.FileRejected as exc:
            reason = str(exc)
            reject_drop(engine, run, path, reason)
            summary.rejected[path.name] = reason
            log.warning("rejected %s: %s", path.name, reason)
            continue
        if counts is None:
            summary.files_already_processed += 1
            log.info("%s: same bytes processed before; archived, nothing changed", path.name)
            continue
        summary.files_loaded += 1
        summary.add(counts)
        log.info("%s: %s", path.name, asdict(counts))
    complete_pending_erasures(engine, policy, keys, run)  # children removed at admission, from the archive too
    return summary
