-- Applicants not held yet. Runs after update_existing.sql in the same
-- transaction, so each staged row is either an update or an insert, never both.
INSERT INTO applicants (
    applicant_id, email, email_match_key, first_name, last_name, phone_e164, status, applied_at, decided_at,
    retain_for_future_roles, dispute, file_id, created_at, updated_at
)
SELECT s.applicant_id, s.email, s.email_match_key, s.first_name, s.last_name, s.phone_e164, s.status,
       s.applied_at, s.decided_at, s.retain_for_future_roles, s.dispute, :file_id, :now, :now
FROM stg_applicants s
WHERE NOT EXISTS (SELECT 1 FROM applicants a WHERE a.applicant_id = s.applicant_id)
