-- Held people named by an erasing entry (reason erasure): deleted, not kept.
SELECT prospect_id FROM prospects
WHERE email_hash IN (SELECT key_hash FROM stg_suppression WHERE key_type = 'email' AND reason IN :erasing)
   OR domain_hash IN (SELECT key_hash FROM stg_suppression WHERE key_type = 'domain' AND reason IN :erasing)
   OR phone_hash IN (SELECT key_hash FROM stg_suppression WHERE key_type = 'phone' AND reason IN :erasing)
