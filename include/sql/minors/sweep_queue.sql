INSERT INTO minor_reviews (prospect_id, signals, status, queued_at)
SELECT h.prospect_id, COALESCE(h.signals, ''), 'open', :now
FROM stg_sweep_hits h
WHERE NOT EXISTS (SELECT 1 FROM minor_reviews r WHERE r.prospect_id = h.prospect_id AND r.status = 'open')
