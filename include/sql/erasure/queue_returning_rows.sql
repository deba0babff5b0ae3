-- Rows of a new drop naming someone erased (or a removed child): the gate
-- keeps them out of the CRM, but the drop itself is archived, so their
-- identifiers go on the scrub to-do, as the keyed hashes the rows already
-- carry under the current key. CROSS JOIN: as in admission/suppression_hits.sql,
-- keeps SQLite from scanning the unanalysed staging table once per entry.
INSERT INTO erasure_followups (kind, key_type, key_hash, key_id, subject_ref, queued_at)
SELECT 'scrub_key', s.key_type, s.key_hash, s.key_id, :subject_ref, :now
FROM stg_rows r CROSS JOIN suppression_list s
WHERE s.key_type = 'email' AND s.key_hash = r.email_hash AND s.key_id = :key_id AND s.reason IN :reasons
UNION
SELECT 'scrub_key', s.key_type, s.key_hash, s.key_id, :subject_ref, :now
FROM stg_rows r CROSS JOIN suppression_list s
WHERE s.key_type = 'phone' AND s.key_hash = r.phone_hash AND s.key_id = :key_id AND s.reason IN :reasons
