-- Holds this drop ends (or gives a new end): releases not already recorded.
SELECT COUNT(*) FROM stg_legal_holds_merged m
WHERE m.released_at IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM legal_holds h
                  JOIN stg_legal_hold_hashes a ON a.any_hash = h.subject_hash
                  WHERE a.subject_hash = m.subject_hash AND h.case_ref = m.case_ref
                    AND h.released_at = m.released_at)
