-- ... else to someone already held with that name at that company.
UPDATE stg_rows
SET identity_key = held.match_key
FROM (
    SELECT p.name_key, p.company_key, MIN(p.match_key) AS match_key
    FROM prospects p
    JOIN (SELECT DISTINCT name_key, company_key FROM stg_rows
          WHERE email_match_key IS NULL AND phone_e164 IS NULL AND identity_key LIKE 'n:%') AS wanted
      ON wanted.name_key = p.name_key AND wanted.company_key = p.company_key
    GROUP BY p.name_key, p.company_key
) AS held
WHERE stg_rows.email_match_key IS NULL AND stg_rows.phone_e164 IS NULL
  AND stg_rows.identity_key LIKE 'n:%'
  AND stg_rows.name_key = held.name_key
  AND stg_rows.company_key = held.company_key
