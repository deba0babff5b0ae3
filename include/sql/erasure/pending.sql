-- The erasure to-do: answer files to delete, keyed hashes to scrub from drops.
SELECT followup_id, kind, answer_file, key_type, key_hash, key_id
FROM erasure_followups
ORDER BY followup_id
