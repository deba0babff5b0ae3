-- A data folder restored from an older backup brings back the access and
-- portability answers of people erased since, though the erasure cleared the
-- pointers to them: they are found again by request id, at the place
-- subject_requests writes them (exports/dsr/<request_id>.json, stored as
-- 'dsr/<request_id>.json'), and go on the to-do; a missing file is counted
-- as such. Pointers still set are queued by erasure.queue_answer_files.
INSERT INTO erasure_followups (kind, answer_file, subject_ref, queued_at)
SELECT DISTINCT 'answer_file', 'dsr/' || request_id || '.json', :subject_ref, :now
FROM data_subject_requests
WHERE subject_hash IN :subject_hashes AND type IN ('access', 'portability') AND answer_file IS NULL
