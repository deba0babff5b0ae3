-- Candidates that are already held (merged into an existing prospect).
SELECT COUNT(*) FROM stg_candidates c
WHERE c.admission = 'admit' AND EXISTS (SELECT 1 FROM prospects p WHERE p.match_key = c.identity_key)
