-- Likewise a person known by neither email nor phone is 'n:<name key>|<company
-- key>': the same person as a target (or a phone-only record found above) with
-- that name at that company.
INSERT INTO erase_targets (prospect_id, match_key, email_match_key, phone_e164, email_hash,
                           name_key, company_key, linked)
SELECT p.prospect_id, p.match_key, p.email_match_key, p.phone_e164, p.email_hash,
       p.name_key, p.company_key, 1
FROM prospects p
WHERE p.match_key IN (SELECT 'n:' || t.name_key || '|' || t.company_key FROM erase_targets t
                      WHERE t.name_key IS NOT NULL AND t.company_key IS NOT NULL)
  AND p.prospect_id NOT IN (SELECT t.prospect_id FROM erase_targets t)
