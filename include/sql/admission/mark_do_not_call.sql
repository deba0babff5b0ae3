-- Phone-scope entries (TPS and the like): the admitted person may still be
-- emailed on their lawful basis but is never called.
UPDATE prospects
SET do_not_call = TRUE
WHERE do_not_call = FALSE
  AND match_key IN (
    SELECT h.identity_key FROM stg_suppression_hits h
    JOIN stg_candidates c ON c.identity_key = h.identity_key AND c.admission = 'admit'
    WHERE h.scope = 'phone'
  )
