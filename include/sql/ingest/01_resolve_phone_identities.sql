-- A person without email is matched on their E.164 phone: first to someone in
-- the same file who gave an email with that phone, else to someone already held.
UPDATE stg_rows
SET identity_key = COALESCE(
    (SELECT MIN(r2.identity_key) FROM stg_rows r2
      WHERE r2.phone_e164 = stg_rows.phone_e164 AND r2.email_match_key IS NOT NULL),
    (SELECT MIN(p.match_key) FROM prospects p WHERE p.phone_e164 = stg_rows.phone_e164),
    identity_key)
WHERE email_match_key IS NULL AND phone_e164 IS NOT NULL
