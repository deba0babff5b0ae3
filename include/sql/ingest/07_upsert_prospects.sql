-- The single write into prospects for every admitted candidate. New people are
-- inserted; held people keep their prospect_id and take the newer non-empty
-- values, the earliest first sighting, the latest contact and the strongest
-- lawful basis (consent is never downgraded). Likely minors enter, or turn,
-- minor_review. The basis_0..basis_3 binds are the policy's precedence order,
-- strongest first.
INSERT INTO prospects (
    match_key, email, email_match_key, first_name, last_name, name_key, company, company_key,
    job_title, country, phone_e164, source, lawful_basis, status,
    email_is_personal, email_is_role, email_is_disposable, referred_only,
    first_seen_at, last_contact_at, art14_notice_due_at, created_at, updated_at,
    email_hash, phone_hash, domain_hash, hash_key_id)
SELECT identity_key, email, email_match_key, first_name, last_name, name_key, company, company_key,
       job_title, country, phone_e164, source,
       CASE basis_rank WHEN 0 THEN :basis_0 WHEN 1 THEN :basis_1 WHEN 2 THEN :basis_2 ELSE :basis_3 END,
       CASE WHEN minor_verdict = 1 THEN 'minor_review' ELSE 'active' END,
       email_is_personal = 1, email_is_role = 1, email_is_disposable = 1, referred_only = 1,
       first_seen_at, last_contact_at, notice_due_at, :now, :now,
       email_hash, phone_hash, domain_hash, :key_id
FROM stg_candidates
WHERE admission = 'admit'
ON CONFLICT (match_key) DO UPDATE SET
    email = CASE WHEN excluded.email IS NOT NULL AND excluded.last_contact_at >= prospects.last_contact_at
                 THEN excluded.email ELSE COALESCE(prospects.email, excluded.email) END,
    email_is_personal = CASE WHEN excluded.email IS NOT NULL AND (prospects.email IS NULL OR excluded.last_contact_at >= prospects.last_contact_at)
                 THEN excluded.email_is_personal ELSE prospects.email_is_personal END,
    email_is_role = CASE WHEN excluded.email IS NOT NULL AND (prospects.email IS NULL OR excluded.last_contact_at >= prospects.last_contact_at)
                 THEN excluded.email_is_role ELSE prospects.email_is_role END,
    email_is_disposable = CASE WHEN excluded.email IS NOT NULL AND (prospects.email IS NULL OR excluded.last_contact_at >= prospects.last_contact_at)
                 THEN excluded.email_is_disposable ELSE prospects.email_is_disposable END,
    email_match_key = COALESCE(prospects.email_match_key, excluded.email_match_key),
    first_name = CASE WHEN excluded.first_name IS NOT NULL AND excluded.last_contact_at >= prospects.last_contact_at
                 THEN excluded.first_name ELSE COALESCE(prospects.first_name, excluded.first_name) END,
    last_name = CASE WHEN excluded.last_name IS NOT NULL AND excluded.last_contact_at >= prospects.last_contact_at
                 THEN excluded.last_name ELSE COALESCE(prospects.last_name, excluded.last_name) END,
    name_key = CASE WHEN excluded.name_key IS NOT NULL AND excluded.last_contact_at >= prospects.last_contact_at
                 THEN excluded.name_key ELSE COALESCE(prospects.name_key, excluded.name_key) END,
    company = CASE WHEN excluded.company IS NOT NULL AND excluded.last_contact_at >= prospects.last_contact_at
                 THEN excluded.company ELSE COALESCE(prospects.company, excluded.company) END,
    company_key = CASE WHEN excluded.company_key IS NOT NULL AND excluded.last_contact_at >= prospects.last_contact_at
                 THEN excluded.company_key ELSE COALESCE(prospects.company_key, excluded.company_key) END,
    job_title = CASE WHEN excluded.job_title IS NOT NULL AND excluded.last_contact_at >= prospects.last_contact_at
                 THEN excluded.job_title ELSE COALESCE(prospects.job_title, excluded.job_title) END,
    country = CASE WHEN excluded.country IS NOT NULL AND excluded.last_contact_at >= prospects.last_contact_at
                 THEN excluded.country ELSE COALESCE(prospects.country, excluded.country) END,
    phone_e164 = CASE WHEN excluded.phone_e164 IS NOT NULL AND excluded.last_contact_at >= prospects.last_contact_at
                 THEN excluded.phone_e164 ELSE COALESCE(prospects.phone_e164, excluded.phone_e164) END,
    lawful_basis = CASE
        WHEN (CASE excluded.lawful_basis WHEN :basis_0 THEN 0 WHEN :basis_1 THEN 1 WHEN :basis_2 THEN 2 ELSE 3 END)
           < (CASE prospects.lawful_basis WHEN :basis_0 THEN 0 WHEN :basis_1 THEN 1 WHEN :basis_2 THEN 2 ELSE 3 END)
        THEN excluded.lawful_basis ELSE prospects.lawful_basis END,
    referred_only = prospects.referred_only AND excluded.referred_only,
    first_seen_at = CASE WHEN excluded.first_seen_at < prospects.first_seen_at
                 THEN excluded.first_seen_at ELSE prospects.first_seen_at END,
    last_contact_at = CASE WHEN excluded.last_contact_at > prospects.last_contact_at
                 THEN excluded.last_contact_at ELSE prospects.last_contact_at END,
    art14_notice_due_at = CASE
        WHEN prospects.art14_notice_due_at IS NULL THEN excluded.art14_notice_due_at
        WHEN excluded.art14_notice_due_at IS NULL THEN prospects.art14_notice_due_at
        WHEN excluded.art14_notice_due_at < prospects.art14_notice_due_at THEN excluded.art14_notice_due_at
        ELSE prospects.art14_notice_due_at END,
    email_hash = COALESCE(excluded.email_hash, prospects.email_hash),
    domain_hash = COALESCE(excluded.domain_hash, prospects.domain_hash),
    phone_hash = CASE WHEN excluded.phone_e164 IS NOT NULL AND excluded.last_contact_at >= prospects.last_contact_at
                 THEN excluded.phone_hash ELSE COALESCE(prospects.phone_hash, excluded.phone_hash) END,
    -- Hashes mixed from two keys are no key's: the rotation step recomputes them.
    hash_key_id = CASE WHEN prospects.hash_key_id = excluded.hash_key_id THEN excluded.hash_key_id END,
    -- A likely minor leaves every use until a person decides.
    status = CASE WHEN excluded.status = 'minor_review' AND prospects.status = 'active'
                 THEN 'minor_review' ELSE prospects.status END,
    updated_at = excluded.updated_at
