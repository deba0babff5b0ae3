-- The rule names behind each candidate's minor verdict, from a row that earned it.
UPDATE stg_candidates
SET minor_signals = (
    SELECT MAX(r.minor_signals) FROM stg_rows r
    WHERE r.identity_key = stg_candidates.identity_key AND r.minor_verdict = stg_candidates.minor_verdict
)
WHERE minor_verdict > 0
