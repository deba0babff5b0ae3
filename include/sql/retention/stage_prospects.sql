-- Prospects whose last contact is past retention and not yet anonymised;
-- held = an active legal hold names them (by the keyed hash of their email);
-- job_title is staged for anonymising, whose bands and new ids then read
-- ret_due instead of joining back to prospects twice (1 s of a 1M-row sweep
-- on PostgreSQL, make bench).
SELECT p.prospect_id AS id, CAST(NULL AS TEXT) AS key, HELD_HASH(p.email_hash) AS held, p.job_title AS job_title
FROM prospects p
WHERE p.status <> 'anonymised'
  AND p.last_contact_at < :cutoff
