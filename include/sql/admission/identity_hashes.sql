-- Every hash a candidate's rows carry, under the current key (stg_rows) and
-- any older key still configured (stg_other_key_hashes): what the suppression
-- gate and the do-not-call step compare with the list.
CREATE TEMPORARY TABLE stg_identity_hashes AS
SELECT identity_key, 'email' AS key_type, email_hash AS key_hash FROM stg_rows WHERE email_hash IS NOT NULL
UNION
SELECT identity_key, 'domain', domain_hash FROM stg_rows WHERE domain_hash IS NOT NULL
UNION
SELECT identity_key, 'phone', phone_hash FROM stg_rows WHERE phone_hash IS NOT NULL
UNION
SELECT r.identity_key, o.key_type, o.key_hash
FROM stg_other_key_hashes o JOIN stg_rows r ON r.row_number = o.row_number
