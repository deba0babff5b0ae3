-- A person a reviewer already judged an adult is not asked about again for the
-- same kind of signal: their likely verdict is dropped.
UPDATE stg_candidates
SET minor_verdict = 0
WHERE minor_verdict = 1
  AND EXISTS (
    SELECT 1 FROM prospects p
    JOIN minor_reviews mr ON mr.prospect_id = p.prospect_id AND mr.status = 'adult'
    WHERE p.match_key = stg_candidates.identity_key
  )
