-- Audit rows older than the cutoff (counts and ids only; no person to hold).
INSERT INTO ret_due (id, key, held)
SELECT a.audit_id, NULL, 0
FROM audit_log a
WHERE a.occurred_at < :cutoff
