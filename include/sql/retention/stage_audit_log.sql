-- Audit rows older than the cutoff (counts and ids only; no person to hold).
-- A sweep never deletes its own run's rows: they are the evidence of what it
-- does (a logical date far past the wall clock would otherwise make them due).
SELECT a.audit_id AS id, CAST(NULL AS TEXT) AS key,
       0 AS held
FROM audit_log a
WHERE a.occurred_at < :cutoff
  AND (a.run_id IS NULL OR a.run_id <> :run_id)
