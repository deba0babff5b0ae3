-- An active legal hold names a person by the keyed hash of their email match
-- key: they are not erased (the refusal is counted and audited).
DELETE FROM erase_targets
WHERE email_match_key IS NOT NULL
  AND EXISTS (SELECT 1 FROM legal_holds h
              WHERE (h.released_at IS NULL OR h.released_at > :now)
                AND h.subject_hash = erase_targets.email_hash)
