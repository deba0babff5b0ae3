-- Decided reviews of people no longer held (removed as minors, expired,
-- erased, or anonymised under a new id), decided before the cutoff. A review
-- that cleared a person still held stays: it stops the same signals queueing
-- them again.
SELECT r.review_id AS id, CAST(NULL AS TEXT) AS key,
       0 AS held
FROM minor_reviews r
WHERE r.status <> 'open'
  AND r.decided_at < :cutoff
  AND NOT EXISTS (SELECT 1 FROM prospects p WHERE p.prospect_id = r.prospect_id)
