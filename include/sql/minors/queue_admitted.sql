-- Every likely minor just admitted waits for a person: one open review each.
INSERT INTO minor_reviews (prospect_id, signals, status, queued_at)
SELECT p.prospect_id, COALESCE(c.minor_signals, ''), 'open', :now
FROM stg_candidates c
JOIN prospects p ON p.match_key = c.identity_key
WHERE c.admission = 'admit' AND c.minor_verdict = 1 AND p.status = 'minor_review'
  AND NOT EXISTS (SELECT 1 FROM minor_reviews r WHERE r.prospect_id = p.prospect_id AND r.status = 'open')
