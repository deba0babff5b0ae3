"""Key rotation: recompute held people's hashes under the current key.

Suppression entries cannot be re-hashed (they hold no plaintext), so older
keys stay configured and admission tries them all. Held people can be: their
email match key and phone are in ``prospects``, so after a rotation (or an
update that mixed two keys) their hashes are rebuilt in batches, and new
entries, always under the current key, match them again.
"""

from __future__ import annotations

from sqlalchemy import Engine, text

from crm_hygiene.audit import write_audit
from crm_hygiene.bulk import bulk_insert
from crm_hygiene.keys import HashKeys, identifier_values
from crm_hygiene.run import RunInfo

BATCH_ROWS = 50_000


def rehash_stale_prospects(engine: Engine, keys: HashKeys, run: RunInfo) -> int:
    """Rows rehashed; one transaction, so a failure leaves the old hashes whole."""
    current = keys.current
    with engine.begin() as conn:
        stale = conn.execute(text(
            "SELECT prospect_id, email_match_key, phone_e164 FROM prospects "
            "WHERE hash_key_id IS NULL OR hash_key_id <> :kid"), {"kid": current.key_id})
        conn.execute(text("DROP TABLE IF EXISTS stg_rehash"))
        conn.execute(text("CREATE TEMPORARY TABLE stg_rehash (prospect_id BIGINT PRIMARY KEY, "
                          "email_hash TEXT, phone_hash TEXT, domain_hash TEXT)"))
        total = 0
        while batch := stale.fetchmany(BATCH_ROWS):
            rows = []
            for prospect_id, email_key, phone in batch:
                hashes = {t: current.digest(v) for t, v in identifier_values(email_key, phone)}
                rows.append((prospect_id, hashes.get("email"), hashes.get("phone"), hashes.get("domain")))
            bulk_insert(conn, "stg_rehash", ("prospect_id", "email_hash", "phone_hash", "domain_hash"), rows)
            total += len(rows)
        if total:
            conn.execute(text(
                "UPDATE prospects SET email_hash = r.email_hash, phone_hash = r.phone_hash, "
                "domain_hash = r.domain_hash, hash_key_id = :kid "
                "FROM stg_rehash r WHERE prospects.prospect_id = r.prospect_id"), {"kid": current.key_id})
            write_audit(conn, run, "rehash_prospects", reason=f"current key {current.key_id}",
                        rows_affected=total)
        conn.execute(text("DROP TABLE stg_rehash"))
    return total
