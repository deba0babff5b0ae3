-- Holds released before the cutoff.
SELECT h.hold_id AS id, CAST(NULL AS TEXT) AS key,
       0 AS held
FROM legal_holds h
WHERE h.released_at IS NOT NULL
  AND h.released_at < :cutoff
