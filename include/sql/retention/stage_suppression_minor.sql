-- A removed child's suppression entries reach their review date.
INSERT INTO ret_due (id, key, held)
SELECT s.suppression_id, NULL,
       CASE WHEN s.key_type = 'email' AND EXISTS (
                SELECT 1 FROM legal_holds h
                WHERE (h.released_at IS NULL OR h.released_at > :as_of)
                  AND h.subject_hash = s.key_hash) THEN 1 ELSE 0 END
FROM suppression_list s
WHERE s.reason = 'minor'
  AND s.added_at < :cutoff
