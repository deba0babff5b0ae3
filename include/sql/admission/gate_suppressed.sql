-- Suppression at admission: a candidate is turned away when a suppression
-- entry with scope 'all' or 'email' names any of its rows (email, domain or
-- phone, under any configured key). Phone-scope entries (e.g. TPS) do not
-- block: they mark the person do_not_call after the upsert.
UPDATE stg_candidates
SET admission = 'blocked', admission_reason = 'suppressed'
WHERE admission = 'admit'
  AND identity_key IN (SELECT identity_key FROM stg_suppression_hits WHERE scope IN ('all', 'email'))
