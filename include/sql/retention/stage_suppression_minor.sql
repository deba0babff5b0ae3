-- A removed child's suppression entries reach their review date.
INSERT INTO ret_due (id, key, held)
SELECT s.suppression_id, NULL,
       CASE WHEN s.key_type = 'email' THEN HELD_HASH(s.key_hash) ELSE 0 END
FROM suppression_list s
WHERE s.reason = 'minor'
  AND s.added_at < :cutoff
