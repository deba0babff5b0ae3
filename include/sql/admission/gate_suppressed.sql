-- Suppression at admission: a candidate is turned away when any of its rows
-- carries an email, domain or phone hash (under any configured key) that a
-- suppression entry with scope 'all' or 'email' names. Phone-scope entries
-- (e.g. TPS) do not block: they mark the person do_not_call after the upsert.
UPDATE stg_candidates
SET admission = 'blocked', admission_reason = 'suppressed'
WHERE admission = 'admit'
  AND identity_key IN (
    SELECT h.identity_key
    FROM stg_identity_hashes h
    JOIN suppression_list s ON s.key_type = h.key_type AND s.key_hash = h.key_hash
    WHERE s.scope IN ('all', 'email')
  )
