-- The held people a staged entry names, with the entry's scope and reason:
-- one hash join per key type (a big list against a big CRM stays linear).
CREATE TEMPORARY TABLE stg_named_prospects AS
SELECT p.prospect_id, s.scope, s.reason
FROM prospects p JOIN stg_suppression s ON s.key_type = 'email' AND s.key_hash = p.email_hash
UNION ALL
SELECT p.prospect_id, s.scope, s.reason
FROM prospects p JOIN stg_suppression s ON s.key_type = 'domain' AND s.key_hash = p.domain_hash
UNION ALL
SELECT p.prospect_id, s.scope, s.reason
FROM prospects p JOIN stg_suppression s ON s.key_type = 'phone' AND s.key_hash = p.phone_hash
