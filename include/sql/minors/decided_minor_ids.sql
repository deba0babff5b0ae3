SELECT d.prospect_id FROM stg_review_decisions d
JOIN minor_reviews r ON r.prospect_id = d.prospect_id AND r.status = 'open'
WHERE d.decision IN ('minor', 'expired')
