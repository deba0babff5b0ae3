-- A suppression list's erasing entries by email or phone, as scrub keys: the
-- list row (and any drop naming that address) is removed from archived and
-- rejected drops even when nobody was held under it.
SELECT DISTINCT key_type, key_hash, key_id
FROM stg_suppression
WHERE reason IN :erasing AND key_type IN ('email', 'phone')
