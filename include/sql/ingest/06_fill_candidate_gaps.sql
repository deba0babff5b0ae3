-- Survivorship is per field: where the newest row left a field empty, take the
-- newest non-empty value from the person's other rows in the file.
UPDATE stg_candidates
SET email_is_personal = COALESCE(CASE WHEN email IS NULL THEN
        (SELECT r.email_is_personal FROM stg_rows r WHERE r.identity_key = stg_candidates.identity_key
           AND r.email IS NOT NULL ORDER BY r.seen_at DESC, r.row_number DESC LIMIT 1) END, email_is_personal),
    email_is_role = COALESCE(CASE WHEN email IS NULL THEN
        (SELECT r.email_is_role FROM stg_rows r WHERE r.identity_key = stg_candidates.identity_key
           AND r.email IS NOT NULL ORDER BY r.seen_at DESC, r.row_number DESC LIMIT 1) END, email_is_role),
    email_is_disposable = COALESCE(CASE WHEN email IS NULL THEN
        (SELECT r.email_is_disposable FROM stg_rows r WHERE r.identity_key = stg_candidates.identity_key
           AND r.email IS NOT NULL ORDER BY r.seen_at DESC, r.row_number DESC LIMIT 1) END, email_is_disposable),
    email_hash = COALESCE(CASE WHEN email IS NULL THEN
        (SELECT r.email_hash FROM stg_rows r WHERE r.identity_key = stg_candidates.identity_key
           AND r.email IS NOT NULL ORDER BY r.seen_at DESC, r.row_number DESC LIMIT 1) END, email_hash),
    domain_hash = COALESCE(CASE WHEN email IS NULL THEN
        (SELECT r.domain_hash FROM stg_rows r WHERE r.identity_key = stg_candidates.identity_key
           AND r.email IS NOT NULL ORDER BY r.seen_at DESC, r.row_number DESC LIMIT 1) END, domain_hash),
    phone_hash = COALESCE(CASE WHEN phone_e164 IS NULL THEN
        (SELECT r.phone_hash FROM stg_rows r WHERE r.identity_key = stg_candidates.identity_key
           AND r.phone_e164 IS NOT NULL ORDER BY r.seen_at DESC, r.row_number DESC LIMIT 1) END, phone_hash),
    email = COALESCE(email,
        (SELECT r.email FROM stg_rows r WHERE r.identity_key = stg_candidates.identity_key
           AND r.email IS NOT NULL ORDER BY r.seen_at DESC, r.row_number DESC LIMIT 1)),
    email_match_key = COALESCE(email_match_key,
        (SELECT r.email_match_key FROM stg_rows r WHERE r.identity_key = stg_candidates.identity_key
           AND r.email_match_key IS NOT NULL ORDER BY r.seen_at DESC, r.row_number DESC LIMIT 1)),
    first_name = COALESCE(first_name,
        (SELECT r.first_name FROM stg_rows r WHERE r.identity_key = stg_candidates.identity_key
           AND r.first_name IS NOT NULL ORDER BY r.seen_at DESC, r.row_number DESC LIMIT 1)),
    last_name = COALESCE(last_name,
        (SELECT r.last_name FROM stg_rows r WHERE r.identity_key = stg_candidates.identity_key
           AND r.last_name IS NOT NULL ORDER BY r.seen_at DESC, r.row_number DESC LIMIT 1)),
    name_key = COALESCE(name_key,
        (SELECT r.name_key FROM stg_rows r WHERE r.identity_key = stg_candidates.identity_key
           AND r.name_key IS NOT NULL ORDER BY r.seen_at DESC, r.row_number DESC LIMIT 1)),
    company = COALESCE(company,
        (SELECT r.company FROM stg_rows r WHERE r.identity_key = stg_candidates.identity_key
           AND r.company IS NOT NULL ORDER BY r.seen_at DESC, r.row_number DESC LIMIT 1)),
    company_key = COALESCE(company_key,
        (SELECT r.company_key FROM stg_rows r WHERE r.identity_key = stg_candidates.identity_key
           AND r.company_key IS NOT NULL ORDER BY r.seen_at DESC, r.row_number DESC LIMIT 1)),
    job_title = COALESCE(job_title,
        (SELECT r.job_title FROM stg_rows r WHERE r.identity_key = stg_candidates.identity_key
           AND r.job_title IS NOT NULL ORDER BY r.seen_at DESC, r.row_number DESC LIMIT 1)),
    country = COALESCE(country,
        (SELECT r.country FROM stg_rows r WHERE r.identity_key = stg_candidates.identity_key
           AND r.country IS NOT NULL ORDER BY r.seen_at DESC, r.row_number DESC LIMIT 1)),
    phone_e164 = COALESCE(phone_e164,
        (SELECT r.phone_e164 FROM stg_rows r WHERE r.identity_key = stg_candidates.identity_key
           AND r.phone_e164 IS NOT NULL ORDER BY r.seen_at DESC, r.row_number DESC LIMIT 1))
WHERE n_rows > 1
