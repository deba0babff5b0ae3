-- Everyone an erasure names directly: the caller's selection (the placeholder,
-- a query from include/sql, never input) plus every identifier it gives: email
-- match keys (as 'e:' match keys), email hashes under every configured key, and
-- E.164 phones. Each branch is its own select so each can use its index.
CREATE TEMPORARY TABLE erase_targets AS
SELECT prospect_id, match_key, email_match_key, phone_e164, email_hash, name_key, company_key,
       CAST(0 AS INTEGER) AS linked
FROM prospects
WHERE prospect_id IN (
    {prospect_ids_sql}
    UNION SELECT prospect_id FROM prospects WHERE match_key IN :match_keys
    UNION SELECT prospect_id FROM prospects WHERE email_hash IN :email_hashes
    UNION SELECT prospect_id FROM prospects WHERE phone_e164 IN :phones
)
