-- A likely minor found among the held leaves every use until a person decides.
UPDATE prospects
SET status = 'minor_review', updated_at = :now
WHERE status = 'active' AND prospect_id IN (SELECT prospect_id FROM stg_sweep_hits)
