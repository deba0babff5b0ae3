-- Without email or phone, a person is matched on name plus company key: to
-- someone in the file with a stronger identity, else to someone already held.
UPDATE stg_rows
SET identity_key = COALESCE(
    (SELECT MIN(r2.identity_key) FROM stg_rows r2
      WHERE r2.name_key = stg_rows.name_key AND r2.company_key = stg_rows.company_key
        AND (r2.email_match_key IS NOT NULL OR r2.phone_e164 IS NOT NULL)),
    (SELECT MIN(p.match_key) FROM prospects p
      WHERE p.name_key = stg_rows.name_key AND p.company_key = stg_rows.company_key),
    identity_key)
WHERE email_match_key IS NULL AND phone_e164 IS NULL
