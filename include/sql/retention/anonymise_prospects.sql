-- Anonymise (ret_anon: old id -> new id, seniority band). Identifiers go
-- (names, email, phone, keyed hashes, the match key), quasi-identifiers are
-- generalised (job title to its band, company dropped, dates to the month)
-- and the row takes its new id, so nothing links it back. Its sources go with
-- it (the row keeps its source type and the month of first contact); reviews
-- of the old id go; request records forget the id.
-- MONTH_START(column) is a macro of crm_hygiene.retention.sql.
UPDATE prospects
SET prospect_id = ret_anon.new_id,
    match_key = 'anonymised:' || CAST(ret_anon.new_id AS TEXT),
    email = NULL, email_match_key = NULL, email_hash = NULL, domain_hash = NULL,
    first_name = NULL, last_name = NULL, name_key = NULL,
    company = NULL, company_key = NULL,
    job_title = ret_anon.band,
    phone_e164 = NULL, phone_hash = NULL, hash_key_id = NULL,
    email_is_personal = FALSE, email_is_role = FALSE, email_is_disposable = FALSE,
    referred_only = FALSE, do_not_call = FALSE, art14_notice_due_at = NULL,
    first_seen_at = MONTH_START(first_seen_at),
    last_contact_at = MONTH_START(last_contact_at),
    created_at = MONTH_START(first_seen_at),
    updated_at = MONTH_START(last_contact_at),
    status = 'anonymised'
FROM ret_anon
WHERE prospects.prospect_id = ret_anon.old_id;
DELETE FROM prospect_sources WHERE prospect_id IN (SELECT old_id FROM ret_anon);
DELETE FROM minor_reviews WHERE prospect_id IN (SELECT old_id FROM ret_anon);
UPDATE data_subject_requests SET prospect_id = NULL WHERE prospect_id IN (SELECT old_id FROM ret_anon)
