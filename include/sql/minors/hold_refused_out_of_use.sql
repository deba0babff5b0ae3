-- A held child that a legal hold keeps from removal is at least taken out of
-- every use: minor_review is outside marketing_prospects.
UPDATE prospects
SET status = 'minor_review', updated_at = :now
WHERE status <> 'minor_review'
  AND match_key IN (SELECT identity_key FROM stg_candidates WHERE admission_reason = 'minor_certain')
