-- Holds not recorded before (no row for the person, under any key, and case).
INSERT INTO legal_holds (subject_hash, key_id, case_ref, placed_at, released_at)
SELECT m.subject_hash, m.key_id, m.case_ref, m.placed_at, m.released_at
FROM stg_legal_holds_merged m
WHERE NOT EXISTS (SELECT 1 FROM legal_holds h
                  JOIN stg_legal_hold_hashes a ON a.any_hash = h.subject_hash
                  WHERE a.subject_hash = m.subject_hash AND h.case_ref = m.case_ref)
