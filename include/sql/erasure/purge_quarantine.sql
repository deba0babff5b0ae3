-- Quarantined rows of anyone erased, by any identifier they carried: a row
-- with no (or a malformed) email is still found by its phone or name.
DELETE FROM quarantine
WHERE email_match_key IN (SELECT value FROM erase_keys WHERE key_type = 'email')
   OR phone_key IN (SELECT value FROM erase_keys WHERE key_type IN ('phone', 'phone_digits'))
   OR name_company_key IN (SELECT value FROM erase_keys WHERE key_type = 'name_company')
