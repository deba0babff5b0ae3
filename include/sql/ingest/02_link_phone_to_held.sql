-- ... else to someone already held with that phone.
UPDATE stg_rows
SET identity_key = held.match_key
FROM (
    SELECT p.phone_e164, MIN(p.match_key) AS match_key
    FROM prospects p
    WHERE p.phone_e164 IN (SELECT s.phone_e164 FROM stg_rows s
                           WHERE s.email_match_key IS NULL AND s.identity_key LIKE 'p:%')
    GROUP BY p.phone_e164
) AS held
WHERE stg_rows.email_match_key IS NULL
  AND stg_rows.identity_key LIKE 'p:%'
  AND stg_rows.phone_e164 = held.phone_e164
