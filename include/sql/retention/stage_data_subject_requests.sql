-- Requests completed or refused before the cutoff (an open request is never
-- due); held = a legal hold names the requester.
SELECT CAST(NULL AS BIGINT) AS id, r.request_id AS key,
       HELD_HASH(r.subject_hash) AS held
FROM data_subject_requests r
WHERE r.status <> 'open'
  AND r.completed_at < :cutoff
