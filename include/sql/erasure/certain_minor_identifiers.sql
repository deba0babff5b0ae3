-- The identifiers of candidates just blocked as certain minors (held or not):
-- their rows are purged from quarantine and scrubbed from the drop they came in.
SELECT 'email' AS key_type, email_match_key AS value FROM stg_candidates
WHERE admission_reason = 'minor_certain' AND email_match_key IS NOT NULL
UNION
SELECT 'phone', phone_e164 FROM stg_candidates
WHERE admission_reason = 'minor_certain' AND phone_e164 IS NOT NULL
UNION
SELECT 'name_company', name_key || '|' || company_key FROM stg_candidates
WHERE admission_reason = 'minor_certain' AND name_key IS NOT NULL AND company_key IS NOT NULL
