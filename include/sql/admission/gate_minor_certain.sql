-- A date of birth or age under the policy's minimum: never admitted. Held
-- records of the same person are removed by the admission step after the gates.
UPDATE stg_candidates
SET admission = 'blocked', admission_reason = 'minor_certain'
WHERE admission = 'admit' AND minor_verdict = 2
