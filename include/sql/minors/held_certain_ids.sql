SELECT p.prospect_id FROM prospects p
JOIN stg_candidates c ON c.identity_key = p.match_key
WHERE c.admission_reason = 'minor_certain'
