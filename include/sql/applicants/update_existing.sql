-- A later drop naming an applicant already held updates them: the drop is the
-- recruiter's latest word (a decision, its date, the reasons to keep them).
-- Set-based from the staged rows of one file; created_at keeps the first sight.
UPDATE applicants
SET email = s.email,
    email_match_key = s.email_match_key,
    first_name = s.first_name,
    last_name = s.last_name,
    phone_e164 = s.phone_e164,
    status = s.status,
    applied_at = s.applied_at,
    decided_at = s.decided_at,
    retain_for_future_roles = s.retain_for_future_roles,
    dispute = s.dispute,
    file_id = :file_id,
    updated_at = :now
FROM stg_applicants s
WHERE applicants.applicant_id = s.applicant_id
