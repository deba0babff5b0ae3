-- Answer files of the person's earlier access requests go on the durable
-- to-do in the erasure's own transaction; the pointers are cleared with it.
INSERT INTO erasure_followups (kind, answer_file, subject_ref, queued_at)
SELECT DISTINCT 'answer_file', answer_file, :subject_ref, :now
FROM data_subject_requests
WHERE subject_hash IN :subject_hashes AND answer_file IS NOT NULL
