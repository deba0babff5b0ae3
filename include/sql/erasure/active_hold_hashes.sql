-- The keyed hashes of everyone an active legal hold names.
SELECT subject_hash FROM legal_holds WHERE released_at IS NULL OR released_at > :now
