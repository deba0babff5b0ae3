"""Job applicants: ``inbox/applicants/*.csv`` into ``applicants``, kept apart from prospects.

Privacy policy, "Job applicants": what an applicant gives us is used for
recruitment only. So an applicant is never written to ``prospects``, never
matched or merged with a prospect (same address or not), never in
``marketing_prospects`` or a partner aggregate. The retention sweep reads
``status``, ``decided_at``, ``retain_for_future_roles`` and ``dispute``
("deleted after a period", longer "where there are further opportunities ...
or if there are any disputes").

Each drop goes through the shared drop layer (processed once, bad rows
quarantined with reason codes, unreadable files rejected with a reason). The
good rows are staged and loaded set-based in one transaction: a row whose
``applicant_id`` is already held updates that applicant (the latest drop is
the recruiter's latest word), the others are inserted. Only counts and file
hashes reach the audit log, logs and XCom.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import Connection, Engine, text

from crm_hygiene.audit import write_audit
from crm_hygiene.bulk import bulk_insert
from crm_hygiene.db import read_sql, timed_sql
from crm_hygiene.drops.cells import OffCalendar, closed_set_value, parse_timestamp, wire_timestamp, within_dates
from crm_hygiene.drops.inbox import process_drops
from crm_hygiene.drops.registry import Drop, DropTally
from crm_hygiene.drops.small import read_small_drop, record_small_drop
from crm_hygiene.normalise.email_address import InvalidEmail, canonical_email, email_match_key
from crm_hygiene.normalise.phone import InvalidPhone, to_e164
from crm_hygiene.normalise.text import clean_text
from crm_hygiene.policy import Policy
from crm_hygiene.run import RunInfo

KIND = "applicants"
REQUIRED_COLUMNS = ("applicant_id", "first_name", "last_name", "email", "phone", "applied_at", "status",
                    "decided_at")
OPTIONAL_COLUMNS = ("retain_for_future_roles", "dispute")
# The drop's own id, validated as request ids are: one plain token, never a path or an expression.
APPLICANT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
STATUSES = ("pending", "hired", "rejected")
DECIDED = ("hired", "rejected")
_YES, _NO = frozenset({"yes", "true", "1"}), frozenset({"no", "false", "0", ""})


class Applicant(NamedTuple):
    """One valid row, in the column order of the staging table."""

    applicant_id: str
    email: str
    email_match_key: str
    first_name: str | None
    last_name: str | None
    phone_e164: str | None
    status: str
    applied_at: str  # wire timestamps: bound as text on SQLite, read by COPY on PostgreSQL
    decided_at: str | None
    retain_for_future_roles: int  # 0/1: both databases read it as a boolean
    dispute: int


STAGE_COLUMNS = Applicant._fields


@dataclass
class ApplicantSummary(DropTally):
    applicants_added: int = 0
    applicants_updated: int = 0
    repeated_ids_in_file: int = 0  # rows superseded by a later row of the same file

    def as_dict(self) -> dict:
        """Counts and file names only: safe for XCom and logs."""
        return {**self.files_dict(), "applicants_added": self.applicants_added,
                "applicants_updated": self.applicants_updated, "repeated_ids_in_file": self.repeated_ids_in_file}


def _flag(raw: str) -> bool | None:
    """yes/no, true/false, 1/0; empty is no. None when it is none of these."""
    value = raw.strip().lower()
    if value in _YES:
        return True
    return False if value in _NO else None


def _moment(raw: str, column: str, policy: Policy, today: date, reasons: list[str]) -> datetime | None:
    """A date cell checked like every drop's: parseable, plausible, not after the run's day."""
    dates = policy.input_validation
    try:
        moment = parse_timestamp(raw)
    except OffCalendar:
        reasons.append(f"{column}_out_of_range")
        return None
    except ValueError:
        reasons.append(f"{column}_invalid")
        return None
    if moment is None:
        return None
    if not within_dates(moment, dates.earliest_date, dates.latest_date):
        reasons.append(f"{column}_out_of_range")
        return None
    if moment.date() > today:
        reasons.append(f"{column}_in_future")
        return None
    return moment


def parse_row(row: dict[str, str], policy: Policy, today: date) -> tuple[Applicant | None, list[str]]:
    """An applicant, or the reason codes it cannot be one (codes name columns, never values)."""
    reasons: list[str] = []
    applicant_id = row.get("applicant_id", "").strip()
    if not APPLICANT_ID.fullmatch(applicant_id):
        reasons.append("applicant_id_invalid")
    email = None
    try:
        email = canonical_email(row.get("email", ""))
    except InvalidEmail:
        reasons.append("email_invalid")
    else:
        if email is None:
            reasons.append("email_missing")
    phone = None
    try:
        phone = to_e164(row.get("phone", ""), policy.suppression.default_phone_region)
    except InvalidPhone:
        reasons.append("phone_invalid")
    status = closed_set_value(row.get("status", ""))
    if status not in STATUSES:
        reasons.append("status_unknown")
    applied_at = _moment(row.get("applied_at", ""), "applied_at", policy, today, reasons)
    if applied_at is None and not any(r.startswith("applied_at_") for r in reasons):
        reasons.append("applied_at_invalid")  # required: the applicant's first clock
    decided_at = _moment(row.get("decided_at", ""), "decided_at", policy, today, reasons)
    decided_ok = not any(r.startswith("decided_at_") for r in reasons)
    if decided_ok and decided_at is None and status in DECIDED:
        reasons.append("decision_date_missing")  # a rejection's retention clock starts on it
    if applied_at is not None and decided_at is not None and decided_at < applied_at:
        reasons.append("decided_before_applied")
    flags = {}
    for column in OPTIONAL_COLUMNS:
        flags[column] = _flag(row.get(column, ""))
        if flags[column] is None:
            reasons.append(f"{column}_invalid")
    if reasons:
        return None, reasons
    return Applicant(
        applicant_id, email, email_match_key(email), clean_text(row.get("first_name")),
        clean_text(row.get("last_name")), phone, status, wire_timestamp(applied_at),
        wire_timestamp(decided_at) if decided_at is not None else None,
        int(flags["retain_for_future_roles"]), int(flags["dispute"]),
    ), []


def read_drop(drop: Drop, policy: Policy, today: date) -> tuple[list[Applicant], list]:
    """The file's valid applicants in file order, and its bad rows as quarantine rows."""
    return read_small_drop(drop, policy, REQUIRED_COLUMNS, OPTIONAL_COLUMNS,
                           lambda cells: parse_row(cells, policy, today))


class LoadCounts(NamedTuple):
    added: int
    updated: int


def load_applicants(conn: Connection, applicants: list[Applicant], file_id: int, run: RunInfo) -> LoadCounts:
    """Stage one file's applicants and update or insert them, in the caller's transaction."""
    # One row per applicant: the file's last row is its latest word.
    latest = {a.applicant_id: a for a in applicants}
    conn.execute(text("DROP TABLE IF EXISTS stg_applicants"))
    conn.execute(text(read_sql("applicants/create_stage.sql")))
    bulk_insert(conn, "stg_applicants", STAGE_COLUMNS, list(latest.values()))
    params = {"now": run.started_at, "file_id": file_id}
    updated = conn.execute(timed_sql("applicants/update_existing.sql"), params).rowcount
    added = conn.execute(timed_sql("applicants/insert_new.sql"), params).rowcount
    conn.execute(text("DROP TABLE stg_applicants"))
    return LoadCounts(added, updated)


def process_applicant_files(engine: Engine, policy: Policy, run: RunInfo, inbox: Path,
                            archive_dir: Path) -> ApplicantSummary:
    """The ingest_applicants DAG's work: each pending drop loaded in one transaction, once."""
    summary = ApplicantSummary()

    def handle(drop: Drop) -> None:
        applicants, bad = read_drop(drop, policy, run.today)
        with engine.begin() as conn:
            file_id = record_small_drop(conn, drop, run, len(applicants), bad, "applicant rows")
            counts = load_applicants(conn, applicants, file_id, run)
            write_audit(conn, run, "load_applicants", subject_ref=drop.subject_ref,
                        reason="applicants added or updated from a drop", rows_affected=counts.added + counts.updated,
                        details={"added": counts.added, "updated": counts.updated})
        summary.applicants_added += counts.added
        summary.applicants_updated += counts.updated
        summary.repeated_ids_in_file += len(applicants) - len({a.applicant_id for a in applicants})
        summary.rows_quarantined += len(bad)

    process_drops(engine, run, KIND, inbox, archive_dir, handle, summary)
    return summary
