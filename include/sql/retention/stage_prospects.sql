-- Prospects whose last contact is past retention and not yet anonymised;
-- held = an active legal hold names them (by the keyed hash of their email);
-- job_title is staged for anonymising, whose bands and new ids then read
-- ret_due instead of joining back to prospects twice (1 s of a 1M-row sweep
-- on PostgreSQL, make bench).
INSERT INTO ret_due (id, key, held, job_title)
SELECT p.prospect_id, NULL,
       CASE WHEN EXISTS (SELECT 1 FROM legal_holds h
                         WHERE (h.released_at IS NULL OR h.released_at > :as_of)
                           AND h.subject_hash = p.email_hash) THEN 1 ELSE 0 END,
       p.job_title
FROM prospects p
WHERE p.status <> 'anonymised'
  AND p.last_contact_at < :cutoff
