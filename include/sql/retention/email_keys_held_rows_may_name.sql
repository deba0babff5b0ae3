-- The email match keys applicants and quarantined rows carry: a legal hold
-- names people by keyed hash only, so these are hashed in Python and the held
-- ones staged in ret_held_keys.
SELECT email_match_key FROM applicants
UNION
SELECT email_match_key FROM quarantine WHERE email_match_key IS NOT NULL
