-- A removed child's suppression entries reach their review date.
SELECT s.suppression_id AS id, CAST(NULL AS TEXT) AS key,
       CASE WHEN s.key_type = 'email' THEN HELD_HASH(s.key_hash) ELSE 0 END AS held
FROM suppression_list s
WHERE s.reason = 'minor'
  AND s.added_at < :cutoff
