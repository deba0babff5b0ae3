-- The single write into prospects for every admitted candidate: a new person
-- is inserted as the candidate stands. When the CRM already holds people, the
-- code appends 07_merge_held_prospects.sql (ON CONFLICT) to this statement.
-- The braced parts are the person's fields: crm_hygiene.ingest.survivorship.
-- Likely minors enter as minor_review. The basis_0..basis_3 binds are the
-- policy's precedence order, strongest first.
INSERT INTO prospects (
    match_key, {person_fields},
    source, lawful_basis, status, referred_only,
    first_seen_at, last_contact_at, art14_notice_due_at, created_at, updated_at, hash_key_id)
SELECT identity_key, {candidate_fields},
       source,
       CASE basis_rank WHEN 0 THEN :basis_0 WHEN 1 THEN :basis_1 WHEN 2 THEN :basis_2 ELSE :basis_3 END,
       CASE WHEN minor_verdict = 1 THEN 'minor_review' ELSE 'active' END,
       referred_only = 1,
       first_seen_at, last_contact_at, notice_due_at, :now, :now, :key_id
FROM stg_candidates
WHERE admission = 'admit'
