-- Answer files past retention go on the durable to-do that deletes them after
-- the commit (erasure_files.complete_pending_erasures); the pointers are
-- cleared in the same transaction.
INSERT INTO erasure_followups (kind, answer_file, subject_ref, queued_at)
SELECT 'answer_file', r.answer_file, :subject_ref, :now
FROM data_subject_requests r
WHERE r.request_id IN (SELECT key FROM ret_due WHERE held = 0);
UPDATE data_subject_requests SET answer_file = NULL
WHERE request_id IN (SELECT key FROM ret_due WHERE held = 0)
