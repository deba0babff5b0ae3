-- Open reviews, oldest first: ids and rule names only (what a reviewer is shown).
SELECT review_id, prospect_id, signals, queued_at
FROM minor_reviews
WHERE status = 'open'
ORDER BY queued_at, review_id
LIMIT :limit
