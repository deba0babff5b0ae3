"""Legal holds from ``inbox/legal_holds/*.csv`` into ``legal_holds``.

Privacy policy, "How long do we keep your information?": data needed for legal
claims may be kept. A held person is neither purged nor erased while the hold
stands (erasure.active_hold_exists, include/sql/erasure/refuse_held.sql).

Every DAG that may erase or purge calls ``load_pending_holds`` before it acts,
so the order DAGs run in never matters: a hold dropped before an erasure
request refuses it even if ``retention_sweep`` has not run yet.

The table names the person only by the keyed hash of their email match key
under the current key (with its key id). A later drop naming the same
(person, case_ref) updates that hold (a release date, or an earlier placing)
instead of adding a second row. Only counts reach the audit log.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import Connection, Engine, text

from crm_hygiene.audit import write_audit
from crm_hygiene.bulk import bulk_insert
from crm_hygiene.db import read_sql
from crm_hygiene.drops import files
from crm_hygiene.drops.cells import OffCalendar, parse_timestamp, wire_timestamp, within_dates
from crm_hygiene.drops.inbox import process_drops
from crm_hygiene.drops.reader import CsvDrop
from crm_hygiene.drops.registry import Drop, DropTally
from crm_hygiene.drops.small import SmallDropReader, record_small_drop
from crm_hygiene.erasure import lock_out_admission
from crm_hygiene.keys import HashKeys
from crm_hygiene.normalise.email_address import InvalidEmail, canonical_email, email_match_key
from crm_hygiene.policy import Policy
from crm_hygiene.run import RunInfo

KIND = "legal_holds"
REQUIRED_COLUMNS = ("email", "case_ref", "placed_at")
OPTIONAL_COLUMNS = ("released_at",)
_STAGE_COLUMNS = ("subject_hash", "key_id", "case_ref", "placed_at", "released_at")


class HoldRow(NamedTuple):
    """One parsed row of a holds drop (the email already reduced to its match key)."""

    email_key: str
    case_ref: str
    placed_at: datetime
    released_at: datetime | None


@dataclass
class HoldCounts:
    placed: int = 0  # holds recorded for the first time
    updated: int = 0  # holds already recorded that the drop changed
    released: int = 0  # holds the drop ends (or gives a new end)


@dataclass
class HoldSummary(DropTally):
    holds: HoldCounts = field(default_factory=HoldCounts)

    def as_dict(self) -> dict:
        """Counts and file names only: safe for XCom and logs."""
        return {**self.files_dict(), **{f"holds_{k}": v for k, v in asdict(self.holds).items()}}

    def report_files_into(self, tally: DropTally) -> None:
        """Put this run's rejected and set-aside holds files on another DAG's tally,
        so that DAG's run fails visibly too (names prefixed with the inbox)."""
        tally.rejected.update({f"{KIND}/{name}": reason for name, reason in self.rejected.items()})
        tally.set_aside.update({f"{KIND}/{name}": reason for name, reason in self.set_aside.items()})


def _parse_moment(raw: str, column: str, policy: Policy) -> tuple[datetime | None, str | None]:
    """A timestamp within the policy's plausible dates, or the reason it is not one."""
    try:
        moment = parse_timestamp(raw)
    except OffCalendar:
        return None, f"{column}_out_of_range"
    except ValueError:
        return None, f"{column}_invalid"
    dates = policy.input_validation
    if moment is not None and not within_dates(moment, dates.earliest_date, dates.latest_date):
        return None, f"{column}_out_of_range"
    return moment, None


def parse_hold_row(row: dict[str, str], policy: Policy, today: date) -> tuple[HoldRow | None, list[str]]:
    """A hold, or the reasons (codes naming no value) it cannot be one."""
    reasons = []
    email_key = None
    try:
        email_key = email_match_key(canonical_email(row.get("email", "")))
    except InvalidEmail:
        pass
    if email_key is None:
        reasons.append("email_invalid")
    case_ref = " ".join(row.get("case_ref", "").split())
    if not case_ref or len(case_ref) > policy.input_validation.max_cell_length.limit("case_ref"):
        reasons.append("case_ref_invalid")
    placed_at, problem = _parse_moment(row.get("placed_at", ""), "placed_at", policy)
    if problem:
        reasons.append(problem)
    elif placed_at is None:
        reasons.append("placed_at_invalid")
    elif placed_at.date() > today:
        reasons.append("placed_at_in_future")
    released_at, problem = _parse_moment(row.get("released_at", ""), "released_at", policy)
    if problem:
        reasons.append("released_at_invalid")  # unreadable or off the plausible calendar alike
    elif released_at is not None and placed_at is not None and released_at < placed_at:
        reasons.append("released_before_placed")
    if reasons:
        return None, reasons
    return HoldRow(email_key, case_ref, placed_at, released_at), []


def _read_holds(drop: Drop, policy: Policy, today: date) -> tuple[list[HoldRow], list]:
    holds = []
    with CsvDrop(drop.path, required=REQUIRED_COLUMNS, known=OPTIONAL_COLUMNS,
                 lengths=policy.input_validation.max_cell_length) as csv_drop:
        small = SmallDropReader(drop, csv_drop)
        for record in csv_drop.records():
            # The reader's over-length code for case_ref is this drop's case_ref_invalid.
            problems = ["case_ref_invalid" if p == "case_ref_too_long" else p for p in record.problems]
            if problems:
                small.quarantine(record, problems)
                continue
            hold, reasons = parse_hold_row(record.cells, policy, today)
            if hold is None:
                small.quarantine(record, reasons)
            else:
                holds.append(hold)
    return holds, small.bad


def apply_holds(conn: Connection, keys: HashKeys, holds: list[HoldRow]) -> HoldCounts:
    """Record `holds` set-based in the caller's transaction: existing (person, case) updated, new inserted."""
    current = keys.current
    staged, hashes = [], set()
    for hold in holds:
        subject_hash = current.digest(hold.email_key)
        staged.append((subject_hash, current.key_id, hold.case_ref, wire_timestamp(hold.placed_at),
                       wire_timestamp(hold.released_at) if hold.released_at else None))
        # A hold recorded under an older key is the same hold.
        hashes.update((subject_hash, digest) for _, digest in keys.all_digests(hold.email_key))
    conn.execute(text("DROP TABLE IF EXISTS stg_legal_holds"))
    conn.execute(text("DROP TABLE IF EXISTS stg_legal_holds_merged"))
    conn.execute(text("DROP TABLE IF EXISTS stg_legal_hold_hashes"))
    for table in ("stg_legal_holds", "stg_legal_holds_merged"):
        conn.execute(text(f"CREATE TEMPORARY TABLE {table} (subject_hash TEXT, key_id TEXT, case_ref TEXT, "
                          "placed_at TIMESTAMP, released_at TIMESTAMP)"))
    conn.execute(text("CREATE TEMPORARY TABLE stg_legal_hold_hashes (subject_hash TEXT, any_hash TEXT)"))
    bulk_insert(conn, "stg_legal_holds", _STAGE_COLUMNS, staged)
    bulk_insert(conn, "stg_legal_hold_hashes", ("subject_hash", "any_hash"), sorted(hashes))
    conn.execute(text(read_sql("legal_holds/merge_staged.sql")))
    counts = HoldCounts()
    counts.released = conn.execute(text(read_sql("legal_holds/count_releases.sql"))).scalar_one()
    counts.updated = conn.execute(text(read_sql("legal_holds/update_existing.sql"))).rowcount
    counts.placed = conn.execute(text(read_sql("legal_holds/insert_new.sql"))).rowcount
    for table in ("stg_legal_holds", "stg_legal_holds_merged", "stg_legal_hold_hashes"):
        conn.execute(text(f"DROP TABLE {table}"))
    return counts


def load_hold_drops(engine: Engine, policy: Policy, keys: HashKeys, run: RunInfo, inbox: Path,
                    archive_dir: Path) -> HoldSummary:
    """Load every pending holds drop, each in one transaction; a file is processed once."""
    summary = HoldSummary()

    def handle(drop: Drop) -> None:
        holds, bad = _read_holds(drop, policy, run.today)
        with engine.begin() as conn:
            lock_out_admission(conn)  # serialised with erasures, which read the holds
            if conn.execute(text("SELECT 1 FROM ingested_files WHERE sha256 = :sha"),
                            {"sha": drop.sha256}).first() is not None:
                return  # another DAG's run loaded these bytes meanwhile: nothing more to do
            counts = apply_holds(conn, keys, holds) if holds else HoldCounts()
            record_small_drop(conn, drop, run, len(holds), bad, "legal hold rows")
            write_audit(conn, run, "legal_holds_loaded", subject_ref=drop.subject_ref,
                        reason="legal hold drop", rows_affected=counts.placed + counts.updated,
                        details=asdict(counts))
        for name, value in asdict(counts).items():
            setattr(summary.holds, name, getattr(summary.holds, name) + value)
        summary.rows_quarantined += len(bad)

    process_drops(engine, run, KIND, inbox, archive_dir, handle, summary)
    return summary


def load_pending_holds(engine: Engine, policy: Policy, keys: HashKeys, run: RunInfo, any_inbox: Path,
                       tally: DropTally | None = None) -> HoldSummary:
    """Before a DAG that may erase or purge acts: load the holds dropped in the data
    folder `any_inbox` (``<data>/inbox/<kind>``) belongs to. Rejected or set-aside
    holds files go on `tally` too, so the calling DAG's run fails visibly."""
    data_folder = files.data_folder_of(any_inbox)
    summary = load_hold_drops(engine, policy, keys, run, data_folder / "inbox" / KIND,
                              data_folder / "archive" / KIND)
    if tally is not None:
        summary.report_files_into(tally)
    return summary
