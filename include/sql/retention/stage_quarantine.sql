-- Quarantined rows older than the cutoff; held = a legal hold names the row's email.
INSERT INTO ret_due (id, key, held)
SELECT q.quarantine_id, NULL,
       HELD_EMAIL_KEY(q.email_match_key)
FROM quarantine q
WHERE q.quarantined_at < :cutoff
