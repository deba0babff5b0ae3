-- The merge rules give a person without email the identity 'p:<E.164>' and
-- fold their later email-less rows into it: that record is the same person as
-- a target with that phone. Another email-identified person who merely shares
-- the phone (a switchboard) is someone else and is not added.
INSERT INTO erase_targets (prospect_id, match_key, email_match_key, phone_e164, email_hash,
                           name_key, company_key, linked)
SELECT p.prospect_id, p.match_key, p.email_match_key, p.phone_e164, p.email_hash,
       p.name_key, p.company_key, 1
FROM prospects p
WHERE p.match_key IN (SELECT 'p:' || t.phone_e164 FROM erase_targets t WHERE t.phone_e164 IS NOT NULL)
  AND p.prospect_id NOT IN (SELECT t.prospect_id FROM erase_targets t)
