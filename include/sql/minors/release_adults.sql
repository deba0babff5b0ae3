-- Judged an adult by a person: back in use.
UPDATE prospects
SET status = 'active', updated_at = :now
WHERE status = 'minor_review'
  AND prospect_id IN (
    SELECT d.prospect_id FROM stg_review_decisions d
    JOIN minor_reviews r ON r.prospect_id = d.prospect_id AND r.status = 'open'
    WHERE d.decision = 'adult'
  )
