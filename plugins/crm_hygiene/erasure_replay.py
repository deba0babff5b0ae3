"""After a restore: apply the erasure log again, so no one erased or suppressed since the backup is back.

A database restored from a backup has lost every suppression entry added since
and holds again everyone erased since. ``replay_erasure_log`` (``make
replay-erasures``) reads the erasure log (crm_hygiene.erasure_log, kept outside
the database) and, in one transaction:

1. puts back every logged ``suppression_list`` row that is missing, exactly as
   it was written (the list sync's own insert; audited per original request or file);
2. erases again, with ``erasure.erase`` (so everything a normal erasure removes
   goes: linked records, sources, quarantined rows, applications, reviews,
   answer files, referrals, drop rows), every held record an ``erased`` entry
   names by identity, and everyone a list's erasing entry names, as the list
   sync does; quarantined rows and applications of logged people who are not
   held are found by hashing their plain keys, their answer files by request
   id; a legal hold still refuses;
3. applies the other list and objection entries to the people held (status
   suppressed, do_not_call), with the list sync's statements;
4. queues every logged erased hash for the drop scrubber, which runs after the
   commit: a data folder restored from an older backup loses the erased
   people's rows again (a clean folder is only read).

Entries hashed under an older key still configured are matched through the
plain identifiers the database holds; entries under a key no longer configured
cannot match anything and are counted. Everything is idempotent: a second
replay adds, erases and changes nothing (it audits that it found nothing).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import Connection, DateTime, Engine, String, bindparam, text

from crm_hygiene import erasure_log
from crm_hygiene.audit import write_audit
from crm_hygiene.bulk import bulk_insert
from crm_hygiene.db import read_sql, use_large_work_mem
from crm_hygiene.drops.registry import DropTally
from crm_hygiene.erasure import (
    ERASURE_REASON,
    MINOR_REASON,
    count_targets,
    erase,
    lock_out_admission,
    queue_answer_files,
    queue_scrub_hashes,
)
from crm_hygiene.erasure_files import complete_pending_erasures
from crm_hygiene.erasure_log import ErasedRecord, SuppressionRecord
from crm_hygiene.keys import HashKey, HashKeys, identifier_values
from crm_hygiene.legal_holds import load_pending_holds
from crm_hygiene.policy import Policy
from crm_hygiene.rehash import rehash_stale_prospects
from crm_hygiene.run import RunInfo
from crm_hygiene.suppression_entries import erasing_targets_sql, staged_kinds, suppress_and_mark_held

SUBJECT_REF = "erasure_log"
_STAGE_COLUMNS = ("key_type", "key_hash", "key_id", "reason", "scope", "added_at", "rescreen_at")
_GROUPS = (ERASURE_REASON, MINOR_REASON)
_BATCH_ROWS = 50_000


class ReplayRefused(RuntimeError):
    """The replay cannot run safely yet: the message says what to fix (no personal data)."""


@dataclass
class ReplayCounts:
    log_files: int = 0
    log_records: int = 0
    log_lines_unreadable: int = 0  # torn by a crash mid-append (never committed) or damaged
    records_unmatchable: int = 0  # hashed under a key no longer configured
    prospects_rehashed: int = 0
    suppression_entries_restored: int = 0
    erased: int = 0
    erasure_refused_legal_hold: int = 0
    quarantine_deleted: int = 0
    applicants_deleted: int = 0
    answer_files_queued: int = 0
    held_suppressed: int = 0
    held_do_not_call: int = 0
    scrub_keys_queued: int = 0
    drop_files_scrubbed: int = 0
    drop_rows_removed: int = 0
    answer_files_deleted: int = 0

    def changed_anything(self) -> bool:
        """Whether the CRM or the data folder changed (queued file work that found nothing does not count)."""
        return any((self.suppression_entries_restored, self.erased, self.quarantine_deleted,
                    self.applicants_deleted, self.held_suppressed, self.held_do_not_call,
                    self.drop_files_scrubbed, self.answer_files_deleted))


def _group(record: SuppressionRecord | ErasedRecord, erasing: frozenset[str]) -> str | None:
    """Which erasure a record asks for again: 'erasure', 'minor' (a removed child), or None."""
    reason = record.keeps if isinstance(record, ErasedRecord) else record.reason
    if reason == MINOR_REASON:
        return MINOR_REASON
    return ERASURE_REASON if reason in erasing or isinstance(record, ErasedRecord) else None


class _Translation:
    """The logged hashes, and the plain identifiers the database holds that they name.

    Used for what cannot be matched by hash in SQL: entries under an older key
    (matched through held people's plain keys, then re-expressed under the
    current key) and tables holding plain keys only (quarantine, applicants).
    """

    def __init__(self, keys: HashKeys, records: list[SuppressionRecord | ErasedRecord]):
        configured = {k.key_id: k for k in keys.keys}
        self.current = keys.current
        self.by_hash: dict[tuple[str, str, str], list] = defaultdict(list)  # (key_id, key_type, hash)
        for record in records:
            if record.key_id in configured:
                self.by_hash[(record.key_id, record.key_type, record.key_hash)].append(record)
        self.logged_keys: list[HashKey] = [configured[i] for i in sorted({i for i, _, _ in self.by_hash})]
        self.old_keys = [k for k in self.logged_keys if k.key_id != self.current.key_id]

    def named(self, key_type: str, value: str, keys: Iterable[HashKey]) -> list:
        """The records naming `value` under any of `keys`."""
        found = []
        for key in keys:
            found += self.by_hash.get((key.key_id, key_type, key.digest(value)), [])
        return found

    def in_current_key(self, record, value: str):
        """The record re-expressed under the current key, for the SQL that matches by hash."""
        return record._replace(key_hash=self.current.digest(value), key_id=self.current.key_id)


def _stage(conn: Connection, table: str, create: str, columns: tuple[str, ...], rows: Iterable[tuple]) -> None:
    """A temporary table of `rows` (table, columns and `create` are this module's constants)."""
    conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
    conn.execute(text(f"CREATE TEMPORARY TABLE {table} ({create})"))
    bulk_insert(conn, table, columns, sorted(set(rows), key=lambda row: ["" if v is None else v for v in row]))
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"ANALYZE {table}"))


def _stage_entries(conn: Connection, records: Iterable[SuppressionRecord]) -> None:
    """``stg_suppression`` as the list sync stages it, from logged records."""
    _stage(conn, "stg_suppression", "key_type TEXT, key_hash TEXT, key_id TEXT, reason TEXT, scope TEXT, "
           "added_at TIMESTAMP, rescreen_at DATE", _STAGE_COLUMNS, (r[1:8] for r in records))


def _restore_entries(conn: Connection, run: RunInfo, records: list[SuppressionRecord]) -> int:
    """Put back the logged suppression rows a restore lost; audited per original request or file."""
    _stage_entries(conn, records)
    restored = conn.execute(text(read_sql("suppression/insert_entries.sql"))).all()
    first_ref: dict[tuple, str] = {}
    for r in records:
        first_ref.setdefault((r.key_type, r.key_hash, r.key_id, r.reason, r.scope), r.subject_ref)
    per_subject = Counter(first_ref[tuple(row[:5])] for row in restored)
    for subject_ref, count in sorted(per_subject.items()):
        write_audit(conn, run, "replay_suppression_entries", subject_ref=subject_ref,
                    reason="suppression entries a database restore had lost, put back from the erasure log",
                    rows_affected=count)
    return len(restored)


def _resolve(conn: Connection, translation: _Translation, erasing: frozenset[str]):
    """(matching records under the current key, plain identifiers to erase per group).

    Quarantine and applications keep plain keys only: those a logged erased hash
    names are erased by value. Held people are matched by the hash columns in
    SQL; only for entries under an older key are their plain keys hashed here.
    """
    matching: set = set()
    plain: set[tuple[str, str, str]] = set()  # (group, key_type, value)
    for key_type, value in conn.execute(text(read_sql("erasure/replay_unhashed_identifiers.sql"))):
        if key_type == "phone_key":  # E.164, or the digits of one that did not parse
            key_type, value = "phone", value if value.startswith("+") else f"+{value}"
        for record in translation.named(key_type, value, translation.logged_keys):
            if group := _group(record, erasing):
                plain.add((group, key_type, value))
                if key_type == "phone":
                    plain.add((group, "phone_digits", value[1:]))
    if translation.old_keys:
        held = conn.execute(text(read_sql("erasure/replay_held_identifiers.sql")))
        while batch := held.fetchmany(_BATCH_ROWS):
            for match_key, email_key, phone in batch:
                for key_type, value in identifier_values(email_key, phone):
                    for record in translation.named(key_type, value, translation.old_keys):
                        if isinstance(record, ErasedRecord) and key_type == "phone" and match_key != f"p:{phone}":
                            continue  # a phone identity is a phone-only record's, as in replay_targets.sql
                        matching.add(translation.in_current_key(record, value))
    return matching, plain


def _erase_group(conn: Connection, keys: HashKeys, policy: Policy, run: RunInfo, group: str,
                 erasing: frozenset[str], list_erasing_types: set[str], counts: ReplayCounts) -> None:
    params: dict = {"replay_group": group}
    targets = read_sql("erasure/replay_targets.sql").rstrip()
    if group == ERASURE_REASON and list_erasing_types:
        # A list's erasing entry names everyone carrying the hash, as at sync.
        targets += "\nUNION\n" + erasing_targets_sql(list_erasing_types)
        params["erasing"] = sorted(erasing)
    found = count_targets(conn, targets, params)
    unheld = conn.execute(text("SELECT COUNT(*) FROM stg_replay_plain WHERE replay_group = :replay_group"),
                          params).scalar_one()
    if not (found or unheld):
        return
    keep_hashes = group == ERASURE_REASON or policy.minors.actions.keep_match_key_hash
    result = erase(conn, run, keys, prospect_ids_sql=targets, params=params, subject_ref=SUBJECT_REF,
                   reason=f"erasure log replay ({group})", suppression_reason=group if keep_hashes else None,
                   identifiers_sql="SELECT key_type, value FROM stg_replay_plain WHERE replay_group = :replay_group")
    counts.erased += result.erased
    counts.erasure_refused_legal_hold += result.refused_legal_hold
    counts.quarantine_deleted += result.quarantine_deleted
    counts.applicants_deleted += result.applicants_deleted
    counts.answer_files_queued += len(result.answer_files)


def _load_holds_first(engine: Engine, policy: Policy, keys: HashKeys, run: RunInfo, data_folder: Path) -> None:
    """Holds dropped since the backup (put back into inbox/legal_holds/) must refuse the replay's erasures."""
    tally = DropTally()
    load_pending_holds(engine, policy, keys, run, data_folder / "inbox" / "legal_holds", tally)
    if tally.rejected or tally.set_aside:
        names = ", ".join(sorted({**tally.rejected, **tally.set_aside}))
        raise ReplayRefused(f"legal hold drops could not be loaded ({names}): nothing was replayed; fix them "
                            "(inbox/legal_holds/rejected/ says why), drop them again and re-run the replay")


def replay_erasure_log(engine: Engine, policy: Policy, keys: HashKeys, run: RunInfo, data_folder: Path,
                       log_folder: Path, since: date | None = None) -> ReplayCounts:
    """Apply the erasure log (from `since` on, by the day entries were written) to the CRM; see the module."""
    contents = erasure_log.read(log_folder, since)
    counts = ReplayCounts(log_files=contents.files, log_records=len(contents.suppression) + len(contents.erased),
                          log_lines_unreadable=contents.unreadable)
    configured = {k.key_id for k in keys.keys}
    records = [*contents.suppression, *contents.erased]
    counts.records_unmatchable = sum(r.key_id not in configured for r in records)
    erasing = frozenset(policy.suppression.erasing_reasons)
    translation = _Translation(keys, records)

    _load_holds_first(engine, policy, keys, run, data_folder)
    counts.prospects_rehashed = rehash_stale_prospects(engine, keys, run)  # hash columns under the current key
    with engine.begin() as conn:
        lock_out_admission(conn)
        use_large_work_mem(conn)
        counts.suppression_entries_restored = _restore_entries(conn, run, contents.suppression)
        translated, plain = _resolve(conn, translation, erasing)
        current = [r for r in records if r.key_id == keys.current.key_id]
        applying = [r for r in (*current, *translated) if isinstance(r, SuppressionRecord) and r.applies]
        _stage_entries(conn, applying)  # what acts on the people held, all under the current key
        _stage(conn, "stg_replay_erased", "replay_group TEXT, key_type TEXT, key_hash TEXT",
               ("replay_group", "key_type", "key_hash"),
               [(_group(r, erasing), r.key_type, r.key_hash) for r in (*current, *translated)
                if isinstance(r, ErasedRecord)])
        _stage(conn, "stg_replay_plain", "replay_group TEXT, key_type TEXT, value TEXT",
               ("replay_group", "key_type", "value"), list(plain))

        erased_hashes = {(r.key_type, r.key_hash, r.key_id) for r in (*records, *translated)
                         if r.key_id in configured and r.key_type in ("email", "phone") and _group(r, erasing)}
        email_hashes = sorted({h for t, h, _ in erased_hashes if t == "email"})
        counts.answer_files_queued = conn.execute(text(read_sql("erasure/replay_answer_files.sql")).bindparams(
            bindparam("subject_hashes", expanding=True, type_=String), bindparam("now", type_=DateTime)),
            {"subject_hashes": email_hashes, "subject_ref": SUBJECT_REF, "now": run.started_at}).rowcount
        counts.answer_files_queued += len(queue_answer_files(conn, email_hashes, SUBJECT_REF, run.started_at))
        staged = staged_kinds(conn)
        list_erasing_types = {key_type for key_type, reason, _ in staged if reason in erasing}
        for group in _GROUPS:
            _erase_group(conn, keys, policy, run, group, erasing, list_erasing_types, counts)
        counts.held_suppressed, counts.held_do_not_call = suppress_and_mark_held(conn, run, staged)
        # Every replay: a data folder restored from an older backup has the erased people's rows again.
        counts.scrub_keys_queued = queue_scrub_hashes(conn, erased_hashes, SUBJECT_REF, run.started_at)
        for table in ("stg_suppression", "stg_replay_erased", "stg_replay_plain"):
            conn.execute(text(f"DROP TABLE {table}"))
        write_audit(conn, run, "replay_erasure_log", subject_ref=SUBJECT_REF,
                    reason="erasure log applied again after a database restore",
                    rows_affected=counts.suppression_entries_restored + counts.erased + counts.held_suppressed
                    + counts.held_do_not_call,
                    details={k: v for k, v in asdict(counts).items() if isinstance(v, int)})
    files = complete_pending_erasures(engine, policy, keys, run, data_folder)
    counts.drop_files_scrubbed, counts.drop_rows_removed = files.drop_files_scrubbed, files.rows_removed + files.lines_removed
    counts.answer_files_deleted = files.answer_files_deleted
    return counts
