-- Identifiers the database keeps in plain only, where a restore can bring an
-- erased person back without their being held: quarantined rows (email match
-- key; phone as E.164, or digits where it did not parse) and job applications.
-- The replay hashes them and keeps those the erasure log names.
SELECT 'email' AS key_type, email_match_key AS value FROM quarantine WHERE email_match_key IS NOT NULL
UNION
SELECT 'phone_key', phone_key FROM quarantine WHERE phone_key IS NOT NULL
UNION
SELECT 'email', email_match_key FROM applicants
UNION
SELECT 'phone', phone_e164 FROM applicants WHERE phone_e164 IS NOT NULL
