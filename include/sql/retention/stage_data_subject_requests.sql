-- Requests completed or refused before the cutoff (an open request is never
-- due); held = a legal hold names the requester.
INSERT INTO ret_due (id, key, held)
SELECT NULL, r.request_id,
       HELD_HASH(r.subject_hash)
FROM data_subject_requests r
WHERE r.status <> 'open'
  AND r.completed_at < :cutoff
