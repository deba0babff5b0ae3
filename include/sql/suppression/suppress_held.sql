-- Entries with scope 'all' or 'email' take the people they name out of
-- marketing at once: status suppressed (restricted and minor_review people are
-- already out of every use and keep their status).
UPDATE prospects
SET status = 'suppressed', updated_at = :now
WHERE status = 'active'
  AND prospect_id IN (SELECT prospect_id FROM stg_named_prospects WHERE scope IN ('all', 'email'))
