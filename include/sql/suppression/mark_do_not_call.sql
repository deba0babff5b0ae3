-- Phone-scope entries (TPS and the like) of one key type: never called,
-- still emailable. Run once per key type the list holds, as suppress_held.
UPDATE prospects
SET do_not_call = TRUE, updated_at = :now
WHERE do_not_call = FALSE
  AND prospect_id IN (
    SELECT p.prospect_id
    FROM stg_suppression s CROSS JOIN prospects p
    WHERE s.key_type = :key_type AND s.scope = 'phone' AND p.{hash_column} = s.key_hash
  )
