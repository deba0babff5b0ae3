"""Suppression lists: load dropped lists as keyed hashes and apply them to what is held.

A list row names a person by email, email HMAC, phone or domain; only HMACs
under the current key are stored (``email_hmac`` values are taken as given).
Then, set-based: entries with reason ``erasure`` delete the people they match,
scope ``all``/``email`` entries set status ``suppressed`` (out of
``marketing_prospects`` at once), scope ``phone`` entries set ``do_not_call``.
Plaintext from the file is never stored or logged; a bad row is quarantined
with its identifying cells redacted.
"""

from __future__ import annotations

import itertools
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import Connection, Engine, text

from crm_hygiene import erasure_log
from crm_hygiene.audit import write_audit
from crm_hygiene.bulk import bulk_insert
from crm_hygiene.db import read_sql, use_large_work_mem
from crm_hygiene.drops import files
from crm_hygiene.drops.cells import OffCalendar, closed_set_value, parse_timestamp, wire_timestamp, within_dates
from crm_hygiene.drops.files import FileRejected
from crm_hygiene.drops.inbox import process_drops
from crm_hygiene.drops.quarantine import NO_KEYS, QuarantineRow, quarantine_rows
from crm_hygiene.drops.reader import CsvDrop, DropRecord
from crm_hygiene.drops.registry import Drop, DropTally, register_drop
from crm_hygiene.erasure import erase, lock_out_admission
from crm_hygiene.erasure_files import complete_pending_erasures
from crm_hygiene.keys import HEX_HMAC, HashKeys
from crm_hygiene.legal_holds import load_pending_holds
from crm_hygiene.normalise.email_address import InvalidEmail, canonical_domain, canonical_email, email_match_key
from crm_hygiene.normalise.phone import InvalidPhone, to_e164
from crm_hygiene.policy import Policy
from crm_hygiene.rehash import rehash_stale_prospects
from crm_hygiene.run import RunInfo, utc_now
from crm_hygiene.suppression_entries import erasing_targets_sql, staged_kinds, suppress_and_mark_held

log = logging.getLogger(__name__)

KEY_COLUMNS = ("email", "email_hmac", "phone", "domain")
OPTIONAL_COLUMNS = ("scope", "added_at")
# A malformed row's identifying cells are not kept: an opt-out's address must
# not stay in plain just because the row was malformed.
REDACTED_COLUMNS = frozenset(KEY_COLUMNS)
_CHUNK_ROWS = 20_000


@dataclass
class SuppressionCounts:
    rows_read: int = 0
    rows_quarantined: int = 0
    entries_in_file: int = 0
    entries_added: int = 0
    held_suppressed: int = 0
    held_do_not_call: int = 0
    held_erased: int = 0
    erasure_refused_legal_hold: int = 0


@dataclass
class SuppressionSummary(DropTally):
    prospects_rehashed: int = 0
    totals: SuppressionCounts = field(default_factory=SuppressionCounts)
    tps_due_for_rescreen: int = 0

    def as_dict(self) -> dict:
        """Counts and file names only: safe for XCom and logs."""
        return {
            **self.files_dict(),
            "prospects_rehashed": self.prospects_rehashed, "tps_due_for_rescreen": self.tps_due_for_rescreen,
            **asdict(self.totals),
        }


class SuppressionEntry(NamedTuple):
    """A list row as stored: a keyed hash and what it asks for."""

    key_type: str
    key_hash: str
    key_id: str
    reason: str
    scope: str
    added_at: str
    rescreen_at: str | None


_STAGE_COLUMNS = SuppressionEntry._fields


def _open_list(path: Path, policy: Policy) -> CsvDrop:
    csv_drop = CsvDrop(path, required=("reason",), known=KEY_COLUMNS + OPTIONAL_COLUMNS,
                       lengths=policy.input_validation.max_cell_length)
    if not any(c in csv_drop.header for c in KEY_COLUMNS):
        csv_drop.close()
        raise FileRejected(f"needs at least one of the columns {', '.join(KEY_COLUMNS)}")
    return csv_drop


class EntryParser:
    """Turns list rows into stored entries (keyed hashes) for one file and run."""

    def __init__(self, policy: Policy, keys: HashKeys, run: RunInfo) -> None:
        self.rules, self.key, self.run = policy.suppression, keys.current, run
        self.dates = policy.input_validation
        self._erasing = frozenset(policy.suppression.erasing_reasons)
        # The plain identifiers of erasing rows, for the erasure to purge their
        # quarantined rows (which keep plain keys); flushed by the caller per batch.
        self.erasing_plain: list[tuple[str, str]] = []
        # A list repeats a few (reason, scope, added_at) combinations for
        # thousands of rows: each is checked once.
        self._terms: dict[tuple[str, str, str], tuple[tuple[str, str, str, str | None], list[str]]] = {}

    def _entry_terms(self, raw_reason: str, raw_scope: str, raw_added: str):
        """((reason, scope, added_at, rescreen_at), problems) for a row's non-key cells."""
        cache_key = (raw_reason, raw_scope, raw_added)
        found = self._terms.get(cache_key)
        if found is not None:
            return found
        rules, problems = self.rules, []
        reason = closed_set_value(raw_reason)
        if reason not in rules.reasons:
            problems.append("reason_unknown")
        scope = closed_set_value(raw_scope) or rules.default_scope
        if scope not in rules.scopes:
            problems.append("scope_unknown")
        try:
            added_at = parse_timestamp(raw_added) or self.run.started_at
        except OffCalendar:
            problems.append("added_at_out_of_range")
            added_at = self.run.started_at
        except ValueError:
            problems.append("added_at_invalid")
            added_at = self.run.started_at
        if not within_dates(added_at, self.dates.earliest_date, self.dates.latest_date):
            problems.append("added_at_out_of_range")
            added_at = self.run.started_at
        elif added_at.date() > self.run.today:
            problems.append("added_at_in_future")
        rescreen_at = None
        if reason == rules.tps.reason:
            rescreen_at = rules.tps.rescreen_period.after(added_at.date()).isoformat()
        if len(self._terms) >= _CHUNK_ROWS:
            self._terms.clear()
        found = self._terms[cache_key] = ((reason, scope, wire_timestamp(added_at), rescreen_at), problems)
        return found

    def entries(self, row: dict[str, str]):
        """(entries, reasons): the row's stored entries, or why it cannot be used."""
        terms, problems = self._entry_terms(row.get("reason", ""), row.get("scope", ""), row.get("added_at", ""))
        reasons = list(problems)
        values: list[tuple[str, str, bool]] = []  # key_type, value, already a hash
        try:
            if key := email_match_key(canonical_email(row.get("email", ""))):
                values.append(("email", key, False))
        except InvalidEmail:
            reasons.append("email_invalid")
        given_hmac = row.get("email_hmac", "").strip().lower()
        if given_hmac:
            if HEX_HMAC.match(given_hmac):
                values.append(("email", given_hmac, True))
            else:
                reasons.append("email_hmac_invalid")
        try:
            if phone := to_e164(row.get("phone", ""), self.rules.default_phone_region):
                values.append(("phone", phone, False))
        except InvalidPhone:
            reasons.append("phone_invalid")
        try:
            if domain := canonical_domain(row.get("domain", "")):
                values.append(("domain", domain, False))
        except InvalidEmail:
            reasons.append("domain_invalid")
        if not values and not reasons:
            reasons.append("no_key")
        if reasons:
            return [], reasons
        key = self.key
        if terms[0] in self._erasing:
            self.erasing_plain += [(key_type, value) for key_type, value, hashed in values if not hashed]
            self.erasing_plain += [("phone_digits", value[1:]) for key_type, value, _ in values if key_type == "phone"]
        return [SuppressionEntry(key_type, value if hashed else key.digest(value), key.key_id, *terms)
                for key_type, value, hashed in values], []


def _stage_file(conn: Connection, drop: Drop, csv_drop: CsvDrop, policy: Policy,
                keys: HashKeys, run: RunInfo, counts: SuppressionCounts) -> None:
    """Hash and stage the file's entries; quarantine bad rows (identifying cells redacted)."""
    # Hash joins of a 100k-key list against a million people need more than the 4 MB default.
    use_large_work_mem(conn)
    conn.execute(text("DROP TABLE IF EXISTS stg_suppression"))
    conn.execute(text(
        "CREATE TEMPORARY TABLE stg_suppression (key_type TEXT, key_hash TEXT, key_id TEXT, reason TEXT, "
        "scope TEXT, added_at TIMESTAMP, rescreen_at DATE)"))
    conn.execute(text("DROP TABLE IF EXISTS stg_erasing_plain"))
    conn.execute(text("CREATE TEMPORARY TABLE stg_erasing_plain (key_type TEXT, value TEXT)"))
    quarantined_at = wire_timestamp(utc_now())
    parser = EntryParser(policy, keys, run)
    records = csv_drop.records()
    while batch := list(itertools.islice(records, _CHUNK_ROWS)):
        staged: list[SuppressionEntry] = []
        bad: list[QuarantineRow] = []
        for record in batch:
            entries, reasons = ([], list(record.problems)) if record.problems else parser.entries(record.cells)
            if reasons:
                bad.append(_quarantined(drop, record, reasons, quarantined_at))
            staged += entries
        bulk_insert(conn, "stg_suppression", _STAGE_COLUMNS, staged)
        bulk_insert(conn, "stg_erasing_plain", ("key_type", "value"), parser.erasing_plain)
        parser.erasing_plain = []
        quarantine_rows(conn, bad)
        counts.rows_read += len(batch)
        counts.rows_quarantined += len(bad)
        counts.entries_in_file += len(staged)
    if conn.dialect.name == "postgresql":
        conn.execute(text("ANALYZE stg_suppression"))


def _quarantined(drop: Drop, record: DropRecord, reasons: list[str], quarantined_at: str) -> QuarantineRow:
    # No identity keys: the identifying cells are redacted, so nothing is left for an erasure to find.
    return QuarantineRow(drop.kind, drop.name, drop.sha256, record.row_number, ";".join(reasons),
                         record.raw_json(REDACTED_COLUMNS), *NO_KEYS, quarantined_at)


def _apply_to_held(conn: Connection, policy: Policy, keys: HashKeys, run: RunInfo, sha256: str,
                   counts: SuppressionCounts) -> list[str]:
    """Erase, suppress and mark do-not-call what the staged entries name; returns answer files to delete.

    A statement runs only for the key types whose (reason, scope) can match,
    so an email list never scans for phone numbers.
    """
    staged = staged_kinds(conn)
    erasing = set(policy.suppression.erasing_reasons)
    erasing_types = sorted({key_type for key_type, reason, _ in staged if reason in erasing})
    answer_files: list[str] = []
    if erasing_types:
        erased = erase(conn, run, keys, prospect_ids_sql=erasing_targets_sql(erasing_types),
                       params={"erasing": sorted(erasing)},
                       subject_ref=f"file:{sha256}", reason="suppression list erasure entries",
                       scrub_hashes_sql=read_sql("erasure/list_erasure_keys.sql"),
                       # Plain keys of erasing rows: their quarantined rows go even if nobody was held.
                       identifiers_sql="SELECT key_type, value FROM stg_erasing_plain")
        counts.held_erased += erased.erased
        counts.erasure_refused_legal_hold += erased.refused_legal_hold
        answer_files = erased.answer_files
    suppressed, marked = suppress_and_mark_held(conn, run, staged)
    counts.held_suppressed += suppressed
    counts.held_do_not_call += marked
    return answer_files


def sync_file(engine: Engine, drop: Drop, policy: Policy, keys: HashKeys, run: RunInfo) -> SuppressionCounts:
    """Load one new list and apply it, in one transaction; FileRejected if it cannot be read."""
    counts = SuppressionCounts()
    sha256 = drop.sha256
    with _open_list(drop.path, policy) as csv_drop, engine.begin() as conn:
        lock_out_admission(conn)  # no admission between this list's entries and their application
        _stage_file(conn, drop, csv_drop, policy, keys, run, counts)
        added = conn.execute(text(read_sql("suppression/insert_entries.sql"))).all()
        counts.entries_added = len(added)
        # Before the commit: a database restored from an older backup gets these entries back on
        # replay. Written (a JSON line each, then fsync) by a thread while the database applies the
        # list, since a running statement leaves the GIL free; the log takes one writer at a time.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="erasure-log") as log_writer:
            logged = log_writer.submit(
                lambda: erasure_log.append(run, erasure_log.suppression_records(f"file:{sha256}", added, applies=True)))
            _apply_to_held(conn, policy, keys, run, sha256, counts)
            logged.result()  # ErasureLogError: the list is not applied (rolled back)
        conn.execute(text("DROP TABLE stg_suppression"))
        conn.execute(text("DROP TABLE stg_erasing_plain"))
        register_drop(conn, drop, run, rows_read=counts.rows_read, rows_quarantined=counts.rows_quarantined)
        write_audit(conn, run, "suppression_list_applied", subject_ref=f"file:{sha256}",
                    reason="suppression list", rows_affected=counts.entries_added, details=asdict(counts))
    return counts


def tps_due_for_rescreen(engine: Engine, run: RunInfo) -> int:
    with engine.connect() as conn:
        return conn.execute(text(
            "SELECT COUNT(*) FROM suppression_list WHERE rescreen_at IS NOT NULL AND rescreen_at <= :today"
        ), {"today": run.today.isoformat()}).scalar_one()


def sync_inbox(engine: Engine, policy: Policy, keys: HashKeys, run: RunInfo, inbox: Path,
               archive_dir: Path) -> SuppressionSummary:
    """Rehash held people after a key rotation, then load and apply every pending list."""
    summary = SuppressionSummary()
    load_pending_holds(engine, policy, keys, run, inbox, summary)  # holds first: the order of DAGs never matters
    complete_pending_erasures(engine, policy, keys, run, files.data_folder_of(inbox))  # a crashed run's answer files and drops
    summary.prospects_rehashed = rehash_stale_prospects(engine, keys, run)

    def handle(drop: Drop) -> None:
        counts = sync_file(engine, drop, policy, keys, run)
        for name, value in asdict(counts).items():
            setattr(summary.totals, name, getattr(summary.totals, name) + value)
        summary.rows_quarantined += counts.rows_quarantined
        log.info("%s: %s", drop.name, asdict(counts))

    process_drops(engine, run, "suppression", inbox, archive_dir, handle, summary)
    complete_pending_erasures(engine, policy, keys, run, files.data_folder_of(inbox))  # after the archive: the lists' own rows too
    summary.tps_due_for_rescreen = tps_due_for_rescreen(engine, run)
    return summary
