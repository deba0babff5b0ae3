-- Held records an erasure in the erasure log had removed, found again after a
-- restore by their identity (crm_hygiene.erasure_replay): the record whose
-- email match key the logged hash names, or the phone-only record ('p:'
-- identity) whose phone it names, never an email-identified person who merely
-- shares that phone (the merge rules keep them apart; erase() then links the
-- same person's other records as it always does). One replay group (erasure
-- or minor) at a time. CROSS JOIN as in suppression/erasure_targets.sql.
SELECT p.prospect_id
FROM stg_replay_erased s CROSS JOIN prospects p
WHERE s.replay_group = :replay_group AND s.key_type = 'email' AND p.email_hash = s.key_hash
UNION
SELECT p.prospect_id
FROM stg_replay_erased s CROSS JOIN prospects p
WHERE s.replay_group = :replay_group AND s.key_type = 'phone' AND p.phone_hash = s.key_hash
  AND p.match_key = 'p:' || p.phone_e164
