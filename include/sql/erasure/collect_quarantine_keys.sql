-- A quarantined row found by the erased person's phone or name is theirs: the
-- other identifiers it carries (its email above all) are theirs too, so the
-- erasure suppresses them and scrubs the drops that carry them (a phone-only
-- erasure otherwise left the row's email in the archived drop).
INSERT INTO erase_keys (key_type, value)
SELECT 'email', q.email_match_key FROM quarantine q
WHERE q.email_match_key IS NOT NULL
  AND (q.phone_key IN (SELECT value FROM erase_keys WHERE key_type IN ('phone', 'phone_digits'))
       OR q.name_company_key IN (SELECT value FROM erase_keys WHERE key_type = 'name_company'))
UNION
SELECT 'name_company', q.name_company_key FROM quarantine q
WHERE q.name_company_key IS NOT NULL
  AND q.phone_key IN (SELECT value FROM erase_keys WHERE key_type IN ('phone', 'phone_digits'))
