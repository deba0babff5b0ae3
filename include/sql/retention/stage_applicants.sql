-- Applicants of one status decided before the cutoff, with no dispute (a
-- dispute keeps them); :retain picks those kept for future roles or not
-- (NULL: either). held = an active legal hold names their email (ret_held_keys).
SELECT CAST(NULL AS BIGINT) AS id, a.applicant_id AS key,
       HELD_EMAIL_KEY(a.email_match_key) AS held
FROM applicants a
WHERE a.status = :status
  AND (CAST(:retain AS BOOLEAN) IS NULL OR a.retain_for_future_roles = CAST(:retain AS BOOLEAN))
  AND a.dispute = FALSE
  AND a.decided_at < :cutoff
