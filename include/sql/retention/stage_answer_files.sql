-- Answers to access and portability requests completed before the cutoff and
-- still on disk; held = a legal hold names the requester.
INSERT INTO ret_due (id, key, held)
SELECT NULL, r.request_id,
       CASE WHEN EXISTS (SELECT 1 FROM legal_holds h
                         WHERE (h.released_at IS NULL OR h.released_at > :as_of)
                           AND h.subject_hash = r.subject_hash) THEN 1 ELSE 0 END
FROM data_subject_requests r
WHERE r.answer_file IS NOT NULL
  AND r.completed_at < :cutoff
