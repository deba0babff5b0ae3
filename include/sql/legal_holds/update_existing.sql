-- A hold already recorded for (person, case), under any configured key, is
-- updated, never doubled: placed_at only moves earlier, a release date given
-- replaces the recorded one. Rows the drop does not change are left alone.
UPDATE legal_holds
SET placed_at = COALESCE((SELECT m.placed_at FROM stg_legal_holds_merged m
                          JOIN stg_legal_hold_hashes a ON a.subject_hash = m.subject_hash
                          WHERE a.any_hash = legal_holds.subject_hash AND m.case_ref = legal_holds.case_ref
                            AND m.placed_at < legal_holds.placed_at), placed_at),
    released_at = COALESCE((SELECT m.released_at FROM stg_legal_holds_merged m
                            JOIN stg_legal_hold_hashes a ON a.subject_hash = m.subject_hash
                            WHERE a.any_hash = legal_holds.subject_hash AND m.case_ref = legal_holds.case_ref),
                           released_at)
WHERE EXISTS (SELECT 1 FROM stg_legal_holds_merged m
              JOIN stg_legal_hold_hashes a ON a.subject_hash = m.subject_hash
              WHERE a.any_hash = legal_holds.subject_hash AND m.case_ref = legal_holds.case_ref
                AND (m.placed_at < legal_holds.placed_at
                     OR (m.released_at IS NOT NULL
                         AND (legal_holds.released_at IS NULL OR m.released_at <> legal_holds.released_at))))
