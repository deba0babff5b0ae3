-- Without email or phone, a person is matched on name plus company key: first
-- to someone in the same file with a stronger identity (email or phone).
UPDATE stg_rows
SET identity_key = by_name.identity_key
FROM (
    SELECT name_key, company_key, MIN(identity_key) AS identity_key
    FROM stg_rows
    WHERE (email_match_key IS NOT NULL OR phone_e164 IS NOT NULL)
      AND name_key IS NOT NULL AND company_key IS NOT NULL
    GROUP BY name_key, company_key
) AS by_name
WHERE stg_rows.email_match_key IS NULL AND stg_rows.phone_e164 IS NULL
  AND stg_rows.name_key = by_name.name_key
  AND stg_rows.company_key = by_name.company_key
