-- An erased person's job applications go too (contract promise 3: the person
-- is nowhere in the database), found by email match key or E.164 phone.
-- Applicants are never matched with prospects for anything else.
DELETE FROM applicants
WHERE email_match_key IN (SELECT value FROM erase_keys WHERE key_type = 'email')
   OR phone_e164 IN (SELECT value FROM erase_keys WHERE key_type = 'phone')
