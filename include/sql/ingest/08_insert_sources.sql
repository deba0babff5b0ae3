-- Every appearance of an admitted person is kept: where, when, on what basis.
INSERT INTO prospect_sources (
    prospect_id, source, source_detail, collected_at, lawful_basis, marketing_consent,
    referred_by_match_key, file_id, source_row_number)
SELECT p.prospect_id, r.source, r.source_detail, r.seen_at, r.lawful_basis,
       CASE WHEN r.marketing_consent IS NULL THEN NULL ELSE r.marketing_consent = 1 END,
       r.referred_by_match_key, :file_id, r.row_number
FROM stg_rows r
JOIN stg_candidates c ON c.identity_key = r.identity_key AND c.admission = 'admit'
JOIN prospects p ON p.match_key = r.identity_key
