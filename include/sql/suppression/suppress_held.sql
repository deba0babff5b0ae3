-- Entries of one key type with scope 'all' or 'email' take the people they
-- name out of marketing at once: status suppressed (restricted and
-- minor_review people are already out of every use and keep their status).
-- Run once per key type the list holds ({hash_column} from a fixed map), so
-- a list of emails never looks at phones. On SQLite the list is on the
-- outside of the join (CROSS JOIN pins that order), probing the hash index
-- that migration 0004 gives SQLite only, and the people are updated through
-- the ids it yields: SQLite then walks prospects in rowid order, twice as fast
-- as updating in index order. PostgreSQL hash-joins the list against one scan.
UPDATE prospects
SET status = 'suppressed', updated_at = :now
WHERE status = 'active'
  AND prospect_id IN (
    SELECT p.prospect_id
    FROM stg_suppression s CROSS JOIN prospects p
    WHERE s.key_type = :key_type AND s.scope IN ('all', 'email') AND p.{hash_column} = s.key_hash
  )
