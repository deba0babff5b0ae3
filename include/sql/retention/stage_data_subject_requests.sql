-- Requests completed or refused before the cutoff (an open request is never
-- due); held = a legal hold names the requester.
INSERT INTO ret_due (id, key, held)
SELECT NULL, r.request_id,
       CASE WHEN EXISTS (SELECT 1 FROM legal_holds h
                         WHERE (h.released_at IS NULL OR h.released_at > :as_of)
                           AND h.subject_hash = r.subject_hash) THEN 1 ELSE 0 END
FROM data_subject_requests r
WHERE r.status <> 'open'
  AND r.completed_at < :cutoff
