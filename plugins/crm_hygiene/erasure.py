"""Erasure: delete people and everything linked to them; keep only keyed hashes.

Privacy policy, "Deletion ('Right to be Forgotten')": "We may need to keep your
email address alone for suppression purposes ... All other held data would,
however, be deleted as requested." So a person's email and phone survive only
as HMACs on ``suppression_list`` (reason ``erasure``), which is what stops the
next import bringing them back. A person named by an active legal hold is not
erased: the refusal is counted and audited instead.

Who is erased: everyone the caller's selection or identifiers name (email match
key, email hash under every configured key, phone), plus the records the merge
rules tie to them (a phone-only 'p:' record with their phone, a name-only 'n:'
record with their name at their company). Never another email-identified person
who merely shares a phone: the merge rules keep them apart.

Everything here runs inside the caller's transaction. What cannot be undone by a
rollback (deleting answer files, scrubbing drop files) is written to the durable
to-do ``erasure_followups`` in that same transaction and done after the commit
by ``erasure_files.complete_pending_erasures``, which every erasing run also
calls first, so a crash anywhere is finished by the next run. What a restore of
the database would undo (who was erased, the hashes kept) is appended to the
erasure log outside it before the commit (``crm_hygiene.erasure_log``), for
``make replay-erasures``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Connection, DateTime, String, bindparam, text

from crm_hygiene import erasure_log
from crm_hygiene.audit import write_audit
from crm_hygiene.bulk import bulk_insert
from crm_hygiene.db import read_sql
from crm_hygiene.keys import HashKeys
from crm_hygiene.policy import Policy
from crm_hygiene.run import RunInfo

ERASURE_REASON = "erasure"
# The suppression_list reason of a removed child's hashes.
MINOR_REASON = "minor"
_ENTRY_COLUMNS = ("key_type", "key_hash", "key_id", "reason", "scope", "added_at")
_FOLLOWUP_COLUMNS = ("kind", "key_type", "key_hash", "key_id", "subject_ref", "queued_at")
# Which plain identifier kinds become suppression entries and scrub keys.
_SUPPRESSED_TYPES = {"email": "email", "phone": "phone"}
_SCRUB_TYPES = {"email": "email", "phone": "phone", "phone_digits": "phone", "name_company": "name_company"}
# One constant for pg_advisory_xact_lock ("CRM_ERAS" in ASCII): admission and
# every change that adds suppression entries or erases take it.
ADMISSION_LOCK_KEY = 0x43524D5F45524153
_NO_IDS = "SELECT prospect_id FROM prospects WHERE 1 = 0"


def lock_out_admission(conn: Connection) -> None:
    """Serialise this transaction with admission and every other erasure or
    suppression change (PostgreSQL; held until commit or rollback).

    Without it an erasure committing between an admission's suppression check
    and its insert is undone for good. SQLite needs nothing: its writers start
    ``BEGIN IMMEDIATE`` (db.make_engine), which already serialises them.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADMISSION_LOCK_KEY})


@dataclass
class ErasureResult:
    erased: int = 0
    linked: int = 0  # of `erased`, records found through the merge rules
    refused_legal_hold: int = 0
    sources_deleted: int = 0
    quarantine_deleted: int = 0
    suppression_keys_added: int = 0
    reviews_closed: int = 0
    applicants_deleted: int = 0
    scrub_keys_queued: int = 0
    answer_files: list[str] = field(default_factory=list)  # queued for deletion after the commit

    def counts(self) -> dict[str, int]:
        return {
            "erased": self.erased, "linked": self.linked, "refused_legal_hold": self.refused_legal_hold,
            "sources_deleted": self.sources_deleted, "quarantine_deleted": self.quarantine_deleted,
            "suppression_keys_added": self.suppression_keys_added, "reviews_closed": self.reviews_closed,
            "applicants_deleted": self.applicants_deleted,
            "scrub_keys_queued": self.scrub_keys_queued, "answer_files_queued": len(self.answer_files),
        }


def active_hold_exists(conn: Connection, keys: HashKeys, email_key: str, now) -> bool:
    """Whether an active legal hold names this email match key (under any key)."""
    hashes = [digest for _, digest in keys.all_digests(email_key)]
    return conn.execute(
        text("SELECT 1 FROM legal_holds WHERE subject_hash IN :hashes "
             "AND (released_at IS NULL OR released_at > :now)").bindparams(
            bindparam("hashes", expanding=True), bindparam("now", type_=DateTime)),
        {"hashes": hashes, "now": now},
    ).first() is not None


def _expanding(sql: str, params: dict):
    """`sql` with its list parameters bound as IN lists of text (typed: PostgreSQL
    must know what an empty list compares with)."""
    return text(sql).bindparams(*(bindparam(n, expanding=True, type_=String) for n, v in params.items()
                                  if isinstance(v, list | tuple)))


def _seed_targets(conn: Connection, keys: HashKeys, prospect_ids_sql: str | None, params: dict,
                  email_keys: tuple[str, ...], phones: tuple[str, ...]) -> None:
    # prospect_ids_sql is a query from include/sql/, never built from input.
    sql = read_sql("erasure/seed_targets.sql").format(prospect_ids_sql=prospect_ids_sql or _NO_IDS)
    seed_params = {
        **params,
        "match_keys": sorted(f"e:{k}" for k in email_keys),
        "email_hashes": sorted({d for k in email_keys for _, d in keys.all_digests(k)}),
        "phones": sorted(set(phones)),
    }
    conn.execute(_expanding(sql, seed_params), seed_params)


def count_targets(conn: Connection, prospect_ids_sql: str, params: dict) -> int:
    """How many held records `prospect_ids_sql` (a query from include/sql/) selects."""
    sql = read_sql("erasure/count_targets.sql").format(prospect_ids_sql=prospect_ids_sql)
    return conn.execute(_expanding(sql, params), params).scalar_one()


def erase(
    conn: Connection, run: RunInfo, keys: HashKeys, *, prospect_ids_sql: str | None = None,
    params: dict | None = None, subject_ref: str, reason: str, email_keys: tuple[str, ...] = (),
    suppression_reason: str | None = ERASURE_REASON, phones: tuple[str, ...] = (),
    identifiers_sql: str | None = None, scrub_hashes_sql: str | None = None,
    close_reviews: bool = True,
) -> ErasureResult:
    """Erase the prospects `prospect_ids_sql` selects, everyone `email_keys` and
    `phones` name, and the records the merge rules tie to them.

    `email_keys` / `phones` are identifiers the caller knows in plain (an erasure
    request's address): their quarantined rows are purged, their drop rows
    scrubbed and their hashes suppressed even when nobody is held under them.
    `identifiers_sql` selects more such (key_type, value) pairs from the caller's
    staging; `scrub_hashes_sql` selects (key_type, key_hash, key_id) already
    hashed (a list's erasing entries) to scrub from drops. The hashes go on the
    list with `suppression_reason`; None keeps no hash at all. Open minor reviews
    of the erased are closed as 'erased' unless `close_reviews` is False (a
    caller that closes them itself with its own decision).
    """
    params = dict(params or {})
    result = ErasureResult()
    now = run.started_at
    lock_out_admission(conn)
    conn.execute(text("DROP TABLE IF EXISTS erase_targets"))
    conn.execute(text("DROP TABLE IF EXISTS erase_keys"))
    _seed_targets(conn, keys, prospect_ids_sql, params, email_keys, phones)
    result.refused_legal_hold = conn.execute(
        text(read_sql("erasure/refuse_held.sql")).bindparams(bindparam("now", type_=DateTime)), {"now": now}
    ).rowcount
    for step in ("link_phone_only", "link_name_only"):
        result.linked += conn.execute(text(read_sql(f"erasure/{step}.sql"))).rowcount

    conn.execute(text("CREATE TEMPORARY TABLE erase_keys (key_type TEXT, value TEXT)"))
    given = [("email", k) for k in email_keys] + [("phone", p) for p in phones]
    given += [("phone_digits", p[1:]) for p in phones if p.startswith("+")]
    bulk_insert(conn, "erase_keys", ("key_type", "value"), sorted(set(given)))
    if identifiers_sql:
        conn.execute(text(f"INSERT INTO erase_keys (key_type, value) {identifiers_sql}"), params)
    conn.execute(text(read_sql("erasure/collect_keys.sql")))
    conn.execute(text(read_sql("erasure/collect_quarantine_keys.sql")))
    plain = conn.execute(text("SELECT DISTINCT key_type, value FROM erase_keys WHERE value IS NOT NULL")).all()
    if held := _held_addresses(conn, keys, plain, now):
        # A list can name a held person in plain: their quarantined rows and
        # applications stay while the hold stands, as their record does.
        conn.execute(_expanding("DELETE FROM erase_keys WHERE key_type = 'email' AND value IN :held",
                                {"held": held}), {"held": held})
        plain = [(t, v) for t, v in plain if not (t == "email" and v in held)]

    kept_rows = _suppress(conn, keys, plain, suppression_reason, now)
    result.suppression_keys_added = len(kept_rows)
    if suppression_reason:
        # Before the commit (the caller's): a restore must not bring anyone of this erasure back.
        erasure_log.append(run, erasure_log.suppression_records(subject_ref, kept_rows, applies=False)
                           + erasure_log.erased_records(subject_ref, suppression_reason,
                                                        _identities(conn, keys, email_keys, phones, set(held))))
    result.scrub_keys_queued = _queue_scrub_keys(conn, keys, plain, scrub_hashes_sql, params, subject_ref, now)
    result.quarantine_deleted = conn.execute(text(read_sql("erasure/purge_quarantine.sql"))).rowcount
    result.applicants_deleted = conn.execute(text(read_sql("erasure/delete_applicants.sql"))).rowcount
    email_plain = sorted(v for t, v in plain if t == "email")
    if email_plain:
        # Someone they referred keeps their own record, but not who referred them.
        conn.execute(_expanding("UPDATE prospect_sources SET referred_by_match_key = NULL "
                                "WHERE referred_by_match_key IN :mkeys", {"mkeys": email_plain}),
                     {"mkeys": email_plain})
        result.answer_files = _queue_answer_files(conn, keys, email_plain, subject_ref, now)
    result.sources_deleted = conn.execute(text(
        "DELETE FROM prospect_sources WHERE prospect_id IN (SELECT prospect_id FROM erase_targets)")).rowcount
    if close_reviews:
        result.reviews_closed = conn.execute(
            text(read_sql("erasure/close_reviews.sql")).bindparams(bindparam("now", type_=DateTime)),
            {"now": now}).rowcount
    result.erased = conn.execute(text(
        "DELETE FROM prospects WHERE prospect_id IN (SELECT prospect_id FROM erase_targets)")).rowcount
    conn.execute(text("DROP TABLE erase_keys"))
    conn.execute(text("DROP TABLE erase_targets"))
    write_audit(conn, run, "erase", subject_ref=subject_ref, reason=reason,
                rows_affected=result.erased, details=result.counts())
    return result


def active_hold_hashes(conn: Connection, now) -> set[str]:
    """The keyed hashes every legal hold standing at `now` names."""
    return set(conn.execute(text(read_sql("erasure/active_hold_hashes.sql")).bindparams(
        bindparam("now", type_=DateTime)), {"now": now}).scalars())


def named_by_holds(keys: HashKeys, email_keys: Iterable[str], holds: set[str]) -> list[str]:
    """The plain email match keys that one of `holds` (keyed hashes, any configured key) names."""
    if not holds:
        return []
    return sorted(k for k in email_keys if any(d in holds for _, d in keys.all_digests(k)))


def _held_addresses(conn: Connection, keys: HashKeys, plain, now) -> list[str]:
    """The plain email keys an active legal hold names (holds store keyed hashes only)."""
    return named_by_holds(keys, (v for t, v in plain if t == "email"), active_hold_hashes(conn, now))


def _identities(conn: Connection, keys: HashKeys, email_keys: tuple[str, ...], phones: tuple[str, ...],
                held_emails: set[str]) -> set[tuple[str, str, str]]:
    """Who this erasure removes, as the erasure log names them for a replay: each
    target record's identity (its email match key, or the phone of a phone-only
    'p:' record; a name-only record is found again through them), and the
    identifiers the caller named (a request's address, held or not) unless a
    legal hold named them. Keyed hashes under the current key."""
    key = keys.current
    found = {("email", k) for k in email_keys if k not in held_emails} | {("phone", p) for p in phones}
    for match_key, email_key, phone in conn.execute(text(
            "SELECT match_key, email_match_key, phone_e164 FROM erase_targets")):
        if email_key:
            found.add(("email", email_key))
        elif phone and match_key == f"p:{phone}":
            found.add(("phone", phone))
    return {(key_type, key.digest(value), key.key_id) for key_type, value in found}


def _suppress(conn: Connection, keys: HashKeys, plain, reason: str | None, now) -> list[tuple]:
    """Only the keyed hashes stay, under the current key: email, and phone too,
    so a phone-only row cannot bring the person back either. Returns the rows
    added, for the erasure log."""
    if not reason:
        return []
    key = keys.current
    entries = sorted({(_SUPPRESSED_TYPES[t], key.digest(v), key.key_id, reason, "all", now)
                      for t, v in plain if t in _SUPPRESSED_TYPES})
    if not entries:
        return []
    conn.execute(text("DROP TABLE IF EXISTS stg_erasure_entries"))
    conn.execute(text(
        "CREATE TEMPORARY TABLE stg_erasure_entries (key_type TEXT, key_hash TEXT, key_id TEXT, "
        "reason TEXT, scope TEXT, added_at TIMESTAMP)"))
    bulk_insert(conn, "stg_erasure_entries", _ENTRY_COLUMNS, entries)
    added = conn.execute(text(
        "INSERT INTO suppression_list (key_type, key_hash, key_id, reason, scope, added_at) "
        "SELECT key_type, key_hash, key_id, reason, scope, added_at FROM stg_erasure_entries WHERE TRUE "
        "ON CONFLICT (key_type, key_hash, key_id, scope, reason) DO NOTHING "
        "RETURNING key_type, key_hash, key_id, reason, scope, added_at, rescreen_at")).all()
    conn.execute(text("DROP TABLE stg_erasure_entries"))
    return added


def queue_drop_scrub(conn: Connection, run: RunInfo, keys: HashKeys, email_keys: tuple[str, ...],
                     subject_ref: str) -> int:
    """Put these addresses on the scrub to-do again, erasing nothing: for a drop
    that repeats an erasure already carried out (a re-run after a crash), whose
    rows must still leave the archived copy."""
    plain = [("email", k) for k in email_keys]
    return _queue_scrub_keys(conn, keys, plain, None, {}, subject_ref, run.started_at)


def _queue_scrub_keys(conn: Connection, keys: HashKeys, plain, hashes_sql: str | None, params: dict,
                      subject_ref: str, now) -> int:
    """The erased identifiers, hashed under the current key, on the to-do for the drop scrubber."""
    key = keys.current
    rows = {(_SCRUB_TYPES[t], key.digest(v), key.key_id) for t, v in plain if t in _SCRUB_TYPES}
    if hashes_sql:
        rows |= {tuple(r) for r in conn.execute(_expanding(hashes_sql, params), params)}
    return queue_scrub_hashes(conn, rows, subject_ref, now)


def queue_scrub_hashes(conn: Connection, hashed: Iterable[tuple[str, str, str]], subject_ref: str, now) -> int:
    """Put (key_type, key_hash, key_id) on the drop scrubber's to-do; returns how many."""
    rows = sorted(set(hashed))
    bulk_insert(conn, "erasure_followups", _FOLLOWUP_COLUMNS,
                [("scrub_key", t, h, k, subject_ref, now) for t, h, k in rows])
    return len(rows)


def _queue_answer_files(conn: Connection, keys: HashKeys, email_keys: Iterable[str], subject_ref: str,
                        now) -> list[str]:
    return queue_answer_files(conn, {d for k in email_keys for _, d in keys.all_digests(k)}, subject_ref, now)


def queue_answer_files(conn: Connection, subject_hashes: Iterable[str], subject_ref: str, now) -> list[str]:
    """Put the answer files of the requesters these keyed hashes name on the to-do
    and clear the pointers to them; returns the files queued."""
    params = {"subject_hashes": sorted(set(subject_hashes)), "subject_ref": subject_ref, "now": now}
    files = conn.execute(_expanding(
        "SELECT DISTINCT answer_file FROM data_subject_requests WHERE subject_hash IN :subject_hashes "
        "AND answer_file IS NOT NULL", params), params).scalars().all()
    if files:
        conn.execute(_expanding(read_sql("erasure/queue_answer_files.sql"), params).bindparams(
            bindparam("now", type_=DateTime)), params)
        conn.execute(_expanding("UPDATE data_subject_requests SET answer_file = NULL "
                                "WHERE subject_hash IN :subject_hashes", params), params)
    return sorted(files)


def queue_scrub_of_returning_rows(conn: Connection, policy: Policy, keys: HashKeys, run: RunInfo,
                                  subject_ref: str) -> int:
    """Put the staged rows (``stg_rows``) that name an erased person or a removed
    child on the scrub to-do: the drop they came in is archived after the commit
    and must not keep them (contract promise 3). Returns the keys queued."""
    params = {"reasons": sorted({*policy.suppression.erasing_reasons, MINOR_REASON}),
              "key_id": keys.current.key_id, "subject_ref": subject_ref, "now": run.started_at}
    return conn.execute(_expanding(read_sql("erasure/queue_returning_rows.sql"), params).bindparams(
        bindparam("now", type_=DateTime)), params).rowcount


def erase_minors(conn: Connection, policy: Policy, keys: HashKeys, run: RunInfo, ids_sql: str,
                 subject_ref: str, reason: str, *, identifiers_sql: str | None = None,
                 close_reviews: bool = True) -> ErasureResult:
    """Erase the people `ids_sql` selects as children: their hashes stay (reason
    ``minor``) only when the policy's ``keep_match_key_hash`` says so."""
    keep = policy.minors.actions.keep_match_key_hash
    return erase(conn, run, keys, prospect_ids_sql=ids_sql, params={}, subject_ref=subject_ref, reason=reason,
                 suppression_reason=MINOR_REASON if keep else None, identifiers_sql=identifiers_sql,
                 close_reviews=close_reviews)
