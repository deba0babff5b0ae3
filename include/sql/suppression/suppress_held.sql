-- Entries with scope 'all' or 'email' take the people they name out of
-- marketing at once: status suppressed (restricted and minor_review people are
-- already out of every use and keep their status).
UPDATE prospects
SET status = 'suppressed', updated_at = :now
WHERE status = 'active'
  AND (email_hash IN (SELECT key_hash FROM stg_suppression WHERE key_type = 'email' AND scope IN ('all', 'email'))
    OR domain_hash IN (SELECT key_hash FROM stg_suppression WHERE key_type = 'domain' AND scope IN ('all', 'email'))
    OR phone_hash IN (SELECT key_hash FROM stg_suppression WHERE key_type = 'phone' AND scope IN ('all', 'email')))
