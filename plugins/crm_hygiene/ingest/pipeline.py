"""Ingest every pending drop of one kind: the function an ingest DAG calls.

Per file, through the drop layer (``crm_hygiene.drops``): fingerprint it (a
file is processed once), read its header and first chunk, gate it with Great
Expectations, then in ONE transaction stage all its rows, quarantine the bad
ones, merge duplicates and admit people into the CRM, and write the audit
log. The gate's verdict is awaited before that transaction commits (the gate
may still be validating in its own process meanwhile: ingest/gate.py). Only
after the commit is the file moved to archive/.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import Connection, Engine, text

from crm_hygiene.audit import write_audit
from crm_hygiene.db import read_sql, use_large_page_cache
from crm_hygiene.drops import files
from crm_hygiene.drops.cells import wire_timestamp
from crm_hygiene.drops.inbox import process_drops
from crm_hygiene.drops.quarantine import QuarantineRow, quarantine_rows, record_keys
from crm_hygiene.drops.reader import CsvDrop, DropRecord, RawChunk, chunked
from crm_hygiene.drops.registry import Drop, DropTally, register_drop
from crm_hygiene.erasure_files import complete_pending_erasures
from crm_hygiene.ingest import staging
from crm_hygiene.ingest.admission import admit_candidates
from crm_hygiene.ingest.gate import PendingGate, gate_failures, start_gate, start_gate_process
from crm_hygiene.ingest.kinds import DropKind
from crm_hygiene.ingest.parallel import prepared_chunks, worker_count
from crm_hygiene.ingest.rows import RowRejection
from crm_hygiene.ingest.survivorship import build_candidates_sql
from crm_hygiene.keys import HashKeys
from crm_hygiene.normalise.country import CountryResolver, UnknownCountry
from crm_hygiene.policy import Policy
from crm_hygiene.run import RunInfo, utc_now

log = logging.getLogger(__name__)

# Small enough that the few chunks in flight stay a small part of the memory
# budget, and that a 100k-row file already fills the pipeline as a big one does.
CHUNK_ROWS = 20_000

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
class IngestSummary(DropTally):
    kind: str = ""
    totals: FileCounts = field(default_factory=FileCounts)

    def add(self, counts: FileCounts) -> None:
        for name, value in asdict(counts).items():
            setattr(self.totals, name, getattr(self.totals, name) + value)

    def as_dict(self) -> dict:
        """Counts and file names only: safe for XCom and logs."""
        return {
            "kind": self.kind, **self.files_dict(), **asdict(self.totals),
            "rows_merged": self.totals.rows_merged,
        }


# Link rows to one identity per person; then 05_build_candidates folds them
# into one candidate each.
IDENTITY_STEPS = (
    "01_link_phone_in_file", "02_link_phone_to_held",
    "03_link_name_in_file", "04_link_name_to_held",
)

_FILE_COUNTS = text(
    "UPDATE ingested_files SET rows_read = :rows_read, rows_quarantined = :rows_quarantined, "
    "rows_admitted = :rows_admitted, rows_blocked = :rows_blocked, "
    "prospects_created = :prospects_created, prospects_updated = :prospects_updated WHERE file_id = :file_id"
)

class _RowQuarantine:
    """Turns a file's bad rows (from the reader or the row checks) into quarantine rows."""

    def __init__(self, drop: Drop, policy: Policy) -> None:
        self.drop, self.now = drop, wire_timestamp(utc_now())
        self._countries = CountryResolver(policy.input_validation.country_aliases)
        self._default_region = policy.suppression.default_phone_region

    def _region(self, raw_country: str) -> str:
        """The row's country for reading its phone; the default region, as a list's
        phone is read, when the row gives none we know."""
        try:
            return self._countries.to_alpha2(raw_country) or self._default_region
        except UnknownCountry:
            return self._default_region

    def rows(self, unread: list[DropRecord], rejected: list[RowRejection]):
        drop = self.drop
        for record in unread:
            yield QuarantineRow(drop.kind, drop.name, drop.sha256, record.row_number, ";".join(record.problems),
                                record.raw_json(), *record_keys(record, self._region), self.now)
        for row in rejected:
            yield QuarantineRow(drop.kind, drop.name, drop.sha256, row.row_number, row.reasons, row.raw_row,
                                *row.keys, self.now)


def _load_file(
    conn: Connection, drop: Drop, kind: DropKind, chunks, policy: Policy, keys: HashKeys, run: RunInfo,
    workers: int, write_path: str | None = None,
) -> FileCounts:
    counts = FileCounts()
    file_id = register_drop(conn, drop, run)
    staging.create_staging(conn)
    to_quarantine = _RowQuarantine(drop, policy)
    unread_by_chunk: list[list[DropRecord]] = []

    def good_rows():
        # The reader's bad rows are held back per chunk (a handful) while
        # the good ones go to the workers; both are written in file order.
        for chunk, unread in chunks:
            unread_by_chunk.append(unread)
            yield chunk

    redacted: dict[str, int] = {}
    for prepared in prepared_chunks(good_rows(), kind, policy, run.today, keys, workers, conn.dialect.name):
        unread = unread_by_chunk.pop(0)
        counts.rows_read += prepared.n_read + len(unread)
        for category, n in prepared.special_category_hits.items():
            redacted[category] = redacted.get(category, 0) + n
        counts.rows_quarantined += quarantine_rows(conn, to_quarantine.rows(unread, prepared.quarantined))
        staging.load_staged(conn, prepared)
    counts.special_category_redactions = sum(redacted.values())
    staging.index_staging(conn)
    for step in IDENTITY_STEPS:
        conn.execute(text(read_sql(f"ingest/{step}.sql")))
    conn.execute(text(build_candidates_sql(conn.dialect.name)))
    staging.index_candidates(conn)
    result = admit_candidates(conn, policy, keys, run, file_id, write_path)
    counts.rows_admitted = result.rows_admitted
    counts.rows_blocked = counts.rows_read - counts.rows_quarantined - counts.rows_admitted
    counts.prospects_created, counts.prospects_updated = result.created, result.updated
    counts.minors_removed, counts.minor_reviews_queued = result.minors_removed, result.minor_reviews_queued
    staging.drop_staging(conn)
    conn.execute(_FILE_COUNTS, {"file_id": file_id, **asdict(counts)})
    details = {**asdict(counts), **{f"blocked_{k}": v for k, v in result.blocked.items()}}
    write_audit(conn, run, "ingest_file", subject_ref=drop.subject_ref, reason=kind.name,
                rows_affected=counts.rows_admitted, details=details)
    if redacted:
        write_audit(conn, run, "redact_special_category", subject_ref=drop.subject_ref,
                    reason="special-category data removed from free text before storage",
                    rows_affected=counts.special_category_redactions, details={"cells_by_category": redacted})
    if counts.rows_quarantined:
        write_audit(conn, run, "quarantine_rows", subject_ref=drop.subject_ref,
                    reason="row checks failed", rows_affected=counts.rows_quarantined)
    return counts


def ingest_file(
    engine: Engine, drop: Drop, kind: DropKind, policy: Policy, keys: HashKeys, run: RunInfo,
    workers: int | None = None, write_path: str | None = None,
) -> FileCounts:
    """Ingest one new drop in one transaction; FileRejected when it cannot be read or fails the gate.
    `write_path` forces how people are written (``bulk_load.WRITE_PATHS``); by default the sizes decide."""
    with CsvDrop(drop.path, required=kind.required_columns, known=kind.all_columns,
                 lengths=policy.input_validation.max_cell_length) as csv_drop:
        chunks = chunked(csv_drop, CHUNK_ROWS)
        first = next(chunks, None) or (RawChunk({n: [] for n in csv_drop.header if n}, []), [])
        workers = workers or worker_count(drop.path.stat().st_size)
        # Great Expectations validates beside the row checks (ingest/gate.py says where); with
        # worker processes, the gate process stops once it has answered: its memory is theirs.
        gate = start_gate(first[0], kind, policy, keep_process=workers == 1)

        def all_chunks():
            if first[0].n_rows or first[1]:
                yield first
            for chunk in chunks:
                if gate.answered():
                    _reject_if_gate_fails(gate)  # a file that fails the gate stops at its next chunk
                yield chunk

        try:
            with engine.begin() as conn:
                use_large_page_cache(conn)  # SQLite: the upsert's index pages stay in memory (db.py)
                counts = _load_file(conn, drop, kind, all_chunks(), policy, keys, run, workers, write_path)
                _reject_if_gate_fails(gate)  # before the commit: a file that fails the gate keeps nothing
                return counts
        except Exception as exc:
            failures = [] if isinstance(exc, files.FileRejected) else gate_failures(gate)
            if not failures:
                raise
        raise files.FileRejected("; ".join(failures))  # the gate's reasons, whatever else its rows did


def _reject_if_gate_fails(gate: PendingGate) -> None:
    if failures := gate_failures(gate):
        raise files.FileRejected("; ".join(failures))


def ingest_inbox(
    engine: Engine, kind: DropKind, policy: Policy, keys: HashKeys, run: RunInfo, inbox: Path,
    archive_dir: Path, workers: int | None = None,
) -> IngestSummary:
    """Ingest every pending file; rejected and set-aside files are reported, not raised."""
    summary = IngestSummary(kind=kind.name)
    if files.pending_files(inbox):
        start_gate_process()  # GX's import, in the gate process, beside what comes before the first gate
    complete_pending_erasures(engine, policy, keys, run, files.data_folder_of(inbox))  # a crashed run's answer files and drops

    def handle(drop: Drop) -> None:
        counts = ingest_file(engine, drop, kind, policy, keys, run, workers)
        summary.add(counts)
        summary.rows_quarantined += counts.rows_quarantined
        log.info("%s: %s", drop.name, asdict(counts))

    process_drops(engine, run, kind.name, inbox, archive_dir, handle, summary)
    complete_pending_erasures(engine, policy, keys, run, files.data_folder_of(inbox))  # after the archive: children and the erased turned away
    return summary
