-- Everyone held, by the identifiers their hashes are made of: for a replay of
-- log entries hashed under an older key (still configured), which the
-- prospects' hash columns (rebuilt under the current key) no longer match.
SELECT match_key, email_match_key, phone_e164
FROM prospects
WHERE email_match_key IS NOT NULL OR phone_e164 IS NOT NULL
