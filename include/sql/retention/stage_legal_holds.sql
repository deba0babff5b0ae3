-- Holds released before the cutoff.
INSERT INTO ret_due (id, key, held)
SELECT h.hold_id, NULL, 0
FROM legal_holds h
WHERE h.released_at IS NOT NULL
  AND h.released_at < :cutoff
