-- Phone-scope entries (TPS and the like): never called, still emailable.
UPDATE prospects
SET do_not_call = TRUE, updated_at = :now
WHERE do_not_call = FALSE
  AND prospect_id IN (SELECT prospect_id FROM stg_named_prospects WHERE scope = 'phone')
