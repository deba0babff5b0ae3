-- Open reviews nobody decided within the policy's limit.
INSERT INTO stg_review_decisions (prospect_id, decision)
SELECT DISTINCT prospect_id, 'expired' FROM minor_reviews
WHERE status = 'open' AND queued_at < :cutoff
