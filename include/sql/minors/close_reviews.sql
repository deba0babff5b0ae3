-- Close the open reviews of the staged decisions of one kind.
UPDATE minor_reviews
SET status = :decision, decided_at = :now, decided_by = :decided_by
WHERE status = 'open'
  AND prospect_id IN (SELECT prospect_id FROM stg_review_decisions WHERE decision = :decision)
