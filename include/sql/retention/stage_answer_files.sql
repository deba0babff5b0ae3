-- Answers to access and portability requests completed before the cutoff and
-- still on disk; held = a legal hold names the requester.
INSERT INTO ret_due (id, key, held)
SELECT NULL, r.request_id,
       HELD_HASH(r.subject_hash)
FROM data_subject_requests r
WHERE r.answer_file IS NOT NULL
  AND r.completed_at < :cutoff
