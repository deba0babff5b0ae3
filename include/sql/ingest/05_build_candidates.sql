-- One candidate per person in the file: the newest row's values, the earliest
-- and latest sighting, the strongest lawful basis, the earliest notice due date,
-- and the strongest minor verdict any of their rows earned.
CREATE TEMPORARY TABLE stg_candidates AS
SELECT identity_key, email, email_match_key, first_name, last_name, name_key,
       company, company_key, job_title, country, phone_e164,
       email_is_personal, email_is_role, email_is_disposable,
       email_hash, phone_hash, domain_hash,
       first_source AS source, best_basis_rank AS basis_rank,
       first_seen_at, last_contact_at, first_notice_due_at AS notice_due_at,
       all_referred AS referred_only, n_rows,
       max_minor_verdict AS minor_verdict, CAST(NULL AS TEXT) AS minor_signals,
       CAST('admit' AS VARCHAR(32)) AS admission,
       CAST(NULL AS VARCHAR(64)) AS admission_reason
FROM (
    SELECT r.*,
           ROW_NUMBER() OVER w AS rn,
           LAST_VALUE(source) OVER w AS first_source,
           COUNT(*) OVER w AS n_rows,
           MIN(seen_at) OVER w AS first_seen_at,
           MAX(seen_at) OVER w AS last_contact_at,
           MIN(basis_rank) OVER w AS best_basis_rank,
           MIN(notice_due_at) OVER w AS first_notice_due_at,
           MIN(referred_only) OVER w AS all_referred,
           MAX(minor_verdict) OVER w AS max_minor_verdict
    FROM stg_rows r
    -- One window, newest first, framed over the whole person: a single sort.
    WINDOW w AS (PARTITION BY identity_key ORDER BY seen_at DESC, row_number DESC
                 ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
) ranked
WHERE rn = 1
