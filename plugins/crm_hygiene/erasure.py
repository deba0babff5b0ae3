"""Erasure: delete people and everything linked to them; keep only keyed hashes.

Privacy policy, "Deletion ('Right to be Forgotten')": "We may need to keep your
email address alone for suppression purposes ... All other held data would,
however, be deleted as requested." So a person's email and phone survive only
as HMACs on ``suppression_list`` (reason ``erasure``), which is what stops the
next import bringing them back. A person named by an active legal hold is not
erased: the refusal is counted and audited instead.

Everything here runs inside the caller's transaction; the answer files of the
person's earlier access requests are returned, to be deleted after the commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, DateTime, bindparam, text

from crm_hygiene.audit import write_audit
from crm_hygiene.bulk import bulk_insert
from crm_hygiene.keys import HashKeys, identifier_values
from crm_hygiene.run import RunInfo

ERASURE_REASON = "erasure"
_ENTRY_COLUMNS = ("key_type", "key_hash", "key_id", "reason", "scope", "added_at")


@dataclass
class ErasureResult:
    erased: int = 0
    refused_legal_hold: int = 0
    sources_deleted: int = 0
    quarantine_deleted: int = 0
    suppression_keys_added: int = 0
    answer_files: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "erased": self.erased, "refused_legal_hold": self.refused_legal_hold,
            "sources_deleted": self.sources_deleted, "quarantine_deleted": self.quarantine_deleted,
            "suppression_keys_added": self.suppression_keys_added,
            "answer_files_deleted": len(self.answer_files),
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


def erase(
    conn: Connection, run: RunInfo, keys: HashKeys, *, prospect_ids_sql: str, params: dict,
    subject_ref: str, reason: str, email_keys: tuple[str, ...] = (),
    suppression_reason: str | None = ERASURE_REASON,
) -> ErasureResult:
    """Erase the prospects `prospect_ids_sql` selects, plus what `email_keys` name.

    `email_keys` are email match keys the caller knows in plain (an erasure
    request's address): their quarantined rows are purged and their hashes
    suppressed even when nobody is held under them. The hashes go on the list
    with `suppression_reason`; None keeps no hash at all.
    """
    result = ErasureResult()
    now = run.started_at
    conn.execute(text("DROP TABLE IF EXISTS erase_targets"))
    # prospect_ids_sql is a query from include/sql/, never built from input.
    create_targets = (
        "CREATE TEMPORARY TABLE erase_targets AS "  # noqa: S608
        "SELECT prospect_id, email_match_key, phone_e164, email_hash FROM prospects "
        f"WHERE prospect_id IN ({prospect_ids_sql})"
    )
    select_targets = text(create_targets).bindparams(*(bindparam(n, expanding=True) for n, v in params.items() if isinstance(v, (list, tuple))))
    conn.execute(select_targets, params)
    # Legal holds name people by the hash of their email match key.
    result.refused_legal_hold = conn.execute(text(
        "DELETE FROM erase_targets WHERE email_match_key IS NOT NULL AND EXISTS ("
        " SELECT 1 FROM legal_holds h WHERE (h.released_at IS NULL OR h.released_at > :now)"
        " AND h.subject_hash = erase_targets.email_hash)"
    ).bindparams(bindparam("now", type_=DateTime)), {"now": now}).rowcount
    targets = conn.execute(text("SELECT email_match_key, phone_e164 FROM erase_targets")).all()

    # Only the keyed hashes stay, under the current key: email, and phone too,
    # so a phone-only row cannot bring the person back either.
    identifiers = {(t, v) for row in targets for t, v in identifier_values(row[0], row[1]) if t != "domain"}
    identifiers |= {("email", k) for k in email_keys}
    entries = [(key_type, keys.current.digest(value), keys.current.key_id, suppression_reason, "all", now)
               for key_type, value in sorted(identifiers)] if suppression_reason else []
    if entries:
        conn.execute(text("DROP TABLE IF EXISTS stg_erasure_entries"))
        conn.execute(text(
            "CREATE TEMPORARY TABLE stg_erasure_entries (key_type TEXT, key_hash TEXT, key_id TEXT, "
            "reason TEXT, scope TEXT, added_at TIMESTAMP)"))
        bulk_insert(conn, "stg_erasure_entries", _ENTRY_COLUMNS, entries)
        result.suppression_keys_added = conn.execute(text(
            "INSERT INTO suppression_list (key_type, key_hash, key_id, reason, scope, added_at) "
            "SELECT key_type, key_hash, key_id, reason, scope, added_at FROM stg_erasure_entries WHERE TRUE "
            "ON CONFLICT (key_type, key_hash, key_id, scope, reason) DO NOTHING")).rowcount
        conn.execute(text("DROP TABLE stg_erasure_entries"))

    plain_keys = sorted({row[0] for row in targets if row[0]} | set(email_keys))
    result.sources_deleted = conn.execute(text(
        "DELETE FROM prospect_sources WHERE prospect_id IN (SELECT prospect_id FROM erase_targets)")).rowcount
    if plain_keys:
        expanding = {"mkeys": plain_keys}
        # Someone they referred keeps their own record, but not who referred them.
        conn.execute(text("UPDATE prospect_sources SET referred_by_match_key = NULL "
                          "WHERE referred_by_match_key IN :mkeys").bindparams(
            bindparam("mkeys", expanding=True)), expanding)
        result.quarantine_deleted = conn.execute(text(
            "DELETE FROM quarantine WHERE email_match_key IN :mkeys").bindparams(
            bindparam("mkeys", expanding=True)), expanding).rowcount
        subject_hashes = [d for _, d in _hashes_for(keys, plain_keys)]
        files = conn.execute(text(
            "SELECT answer_file FROM data_subject_requests WHERE subject_hash IN :hashes "
            "AND answer_file IS NOT NULL").bindparams(bindparam("hashes", expanding=True)),
            {"hashes": subject_hashes}).scalars().all()
        result.answer_files = sorted(set(files))
        conn.execute(text("UPDATE data_subject_requests SET answer_file = NULL WHERE subject_hash IN :hashes")
                     .bindparams(bindparam("hashes", expanding=True)), {"hashes": subject_hashes})
    result.erased = conn.execute(text(
        "DELETE FROM prospects WHERE prospect_id IN (SELECT prospect_id FROM erase_targets)")).rowcount
    conn.execute(text("DROP TABLE erase_targets"))
    write_audit(conn, run, "erase", subject_ref=subject_ref, reason=reason,
                rows_affected=result.erased, details=result.counts())
    return result


def _hashes_for(keys: HashKeys, email_keys) -> list[tuple[str, str]]:
    return [pair for k in email_keys for pair in keys.all_digests(k)]
