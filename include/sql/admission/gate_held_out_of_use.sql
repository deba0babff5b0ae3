-- A person held as restricted (Art. 18: storage only) or suppressed is not
-- updated by a new appearance: that would be processing they stopped.
UPDATE stg_candidates
SET admission = 'blocked', admission_reason = 'held_out_of_use'
WHERE admission = 'admit'
  AND identity_key IN (
    SELECT p.match_key FROM prospects p
    WHERE p.status IN ('restricted', 'suppressed')
      AND p.match_key IN (SELECT identity_key FROM stg_candidates)
  )
