-- Policy minors.actions.keep_match_key_hash: the email and phone hashes of a
-- removed child stay on the suppression list (reason 'minor'), so the same entry
-- is not added again. Only hashes: nothing else of the row is kept.
-- RETURNING: the rows added, for the erasure log (crm_hygiene.erasure_log).
INSERT INTO suppression_list (key_type, key_hash, key_id, reason, scope, added_at)
SELECT key_type, key_hash, :key_id, 'minor', 'all', :now
FROM (
    SELECT 'email' AS key_type, email_hash AS key_hash FROM stg_candidates
    WHERE admission_reason = 'minor_certain' AND email_hash IS NOT NULL
    UNION
    SELECT 'phone', phone_hash FROM stg_candidates
    WHERE admission_reason = 'minor_certain' AND phone_hash IS NOT NULL
) AS child_keys
WHERE TRUE
ON CONFLICT (key_type, key_hash, key_id, scope, reason) DO NOTHING
RETURNING key_type, key_hash, key_id, reason, scope, added_at, rescreen_at
