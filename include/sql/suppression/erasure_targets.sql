-- Held people an erasing entry (reason erasure) of one key type names:
-- deleted, not kept. {hash_column} and {key_type} come from a fixed map in
-- suppression.py; one such select per key type in the list, joined by UNION.
SELECT p.prospect_id
FROM stg_suppression s CROSS JOIN prospects p
WHERE s.key_type = '{key_type}' AND s.reason IN :erasing AND p.{hash_column} = s.key_hash
