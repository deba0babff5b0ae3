-- One row per (person, case) named in the drop: the earliest placing and the
-- latest release the drop gives (several rows about one hold are one hold).
INSERT INTO stg_legal_holds_merged (subject_hash, key_id, case_ref, placed_at, released_at)
SELECT subject_hash, MIN(key_id), case_ref, MIN(placed_at), MAX(released_at)
FROM stg_legal_holds
GROUP BY subject_hash, case_ref
