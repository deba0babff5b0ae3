-- A person without email is matched on their E.164 phone, first to someone in
-- the same file who gave an email with that phone.
UPDATE stg_rows
SET identity_key = by_phone.identity_key
FROM (
    SELECT phone_e164, MIN(identity_key) AS identity_key
    FROM stg_rows
    WHERE email_match_key IS NOT NULL AND phone_e164 IS NOT NULL
    GROUP BY phone_e164
) AS by_phone
WHERE stg_rows.email_match_key IS NULL
  AND stg_rows.phone_e164 = by_phone.phone_e164
