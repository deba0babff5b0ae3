-- Decisions that name nobody waiting for one (a typo, or decided before).
SELECT COUNT(*) FROM stg_review_decisions d
WHERE NOT EXISTS (SELECT 1 FROM minor_reviews r WHERE r.prospect_id = d.prospect_id AND r.status = 'open')
