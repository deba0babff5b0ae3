-- Phone-scope entries (TPS and the like): never called, still emailable.
UPDATE prospects
SET do_not_call = TRUE, updated_at = :now
WHERE do_not_call = FALSE
  AND (email_hash IN (SELECT key_hash FROM stg_suppression WHERE key_type = 'email' AND scope = 'phone')
    OR domain_hash IN (SELECT key_hash FROM stg_suppression WHERE key_type = 'domain' AND scope = 'phone')
    OR phone_hash IN (SELECT key_hash FROM stg_suppression WHERE key_type = 'phone' AND scope = 'phone'))
