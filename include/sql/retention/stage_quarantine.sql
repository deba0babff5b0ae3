-- Quarantined rows older than the cutoff; held = a legal hold names the row's email.
SELECT q.quarantine_id AS id, CAST(NULL AS TEXT) AS key,
       HELD_EMAIL_KEY(q.email_match_key) AS held
FROM quarantine q
WHERE q.quarantined_at < :cutoff
