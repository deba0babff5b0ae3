-- New entries only: the same key, key id, scope and reason is stored once.
-- RETURNING: the rows added, for the erasure log (crm_hygiene.erasure_log).
INSERT INTO suppression_list (key_type, key_hash, key_id, reason, scope, added_at, rescreen_at)
SELECT key_type, key_hash, key_id, reason, scope, MIN(added_at), MIN(rescreen_at)
FROM stg_suppression
GROUP BY key_type, key_hash, key_id, reason, scope
ON CONFLICT (key_type, key_hash, key_id, scope, reason) DO NOTHING
RETURNING key_type, key_hash, key_id, reason, scope, added_at, rescreen_at
