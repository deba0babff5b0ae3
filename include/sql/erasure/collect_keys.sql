-- Every plain identifier of everyone erased, in the forms quarantine keeps
-- them: email match key, E.164 phone and its digits (a quarantined phone that
-- did not parse is kept as digits), name_key|company_key. Added to the
-- caller's own identifiers, already in erase_keys.
INSERT INTO erase_keys (key_type, value)
SELECT 'email', email_match_key FROM erase_targets WHERE email_match_key IS NOT NULL
UNION
SELECT 'phone', phone_e164 FROM erase_targets WHERE phone_e164 IS NOT NULL
UNION
SELECT 'phone_digits', SUBSTR(phone_e164, 2) FROM erase_targets WHERE phone_e164 IS NOT NULL
UNION
SELECT 'name_company', name_key || '|' || company_key FROM erase_targets
WHERE name_key IS NOT NULL AND company_key IS NOT NULL
