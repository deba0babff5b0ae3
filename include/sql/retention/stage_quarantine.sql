-- Quarantined rows older than the cutoff; held = a legal hold names the row's email.
INSERT INTO ret_due (id, key, held)
SELECT q.quarantine_id, NULL,
       CASE WHEN q.email_match_key IN (SELECT email_match_key FROM ret_held_keys) THEN 1 ELSE 0 END
FROM quarantine q
WHERE q.quarantined_at < :cutoff
