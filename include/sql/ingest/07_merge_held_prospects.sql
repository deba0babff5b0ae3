-- Appended to 07_insert_prospects.sql: a person already held keeps their
-- prospect_id and takes, field by field, the newer non-empty values (the
-- braced part: crm_hygiene.ingest.survivorship), the earliest first
-- sighting, the latest contact and the strongest lawful basis (consent is
-- never downgraded). A likely minor turns minor_review.
ON CONFLICT (match_key) DO UPDATE SET
    {merged_fields},
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
    -- Hashes mixed from two keys are no key's: the rotation step recomputes them.
    hash_key_id = CASE WHEN prospects.hash_key_id = excluded.hash_key_id THEN excluded.hash_key_id END,
    -- A likely minor leaves every use until a person decides.
    status = CASE WHEN excluded.status = 'minor_review' AND prospects.status = 'active'
                 THEN 'minor_review' ELSE prospects.status END,
    updated_at = excluded.updated_at
