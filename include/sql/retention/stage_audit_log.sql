-- Audit rows older than the cutoff (counts and ids only; no person to hold).
-- A sweep never deletes its own run's rows: they are the evidence of what it
-- does (a logical date far past the wall clock would otherwise make them due).
INSERT INTO ret_due (id, key, held)
SELECT a.audit_id, NULL, 0
FROM audit_log a
WHERE a.occurred_at < :cutoff
  AND (a.run_id IS NULL OR a.run_id <> :run_id)
