-- Answers to access and portability requests completed before the cutoff and
-- still on disk; held = a legal hold names the requester.
SELECT CAST(NULL AS BIGINT) AS id, r.request_id AS key,
       HELD_HASH(r.subject_hash) AS held
FROM data_subject_requests r
WHERE r.answer_file IS NOT NULL
  AND r.completed_at < :cutoff
