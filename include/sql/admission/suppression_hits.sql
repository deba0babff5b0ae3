-- Which candidates a suppression entry names, and with what scope: every
-- hash their rows carry, under the current key (stg_rows) and any older key
-- still configured (stg_other_key_hashes), looked up in the list's
-- (key_type, key_hash) index. Only hits are kept, so a big file against a
-- short list stays cheap. CROSS JOIN keeps SQLite's planner from putting the
-- (unanalysed) staging table on the inside of the loop, which scanned it once
-- per list entry (210 s for 10k rows against 100k entries); PostgreSQL plans
-- it as the inner join it is.
CREATE TEMPORARY TABLE stg_suppression_hits AS
SELECT r.identity_key, s.scope
FROM stg_rows r CROSS JOIN suppression_list s
WHERE s.key_type = 'email' AND s.key_hash = r.email_hash
UNION ALL
SELECT r.identity_key, s.scope
FROM stg_rows r CROSS JOIN suppression_list s
WHERE s.key_type = 'domain' AND s.key_hash = r.domain_hash
UNION ALL
SELECT r.identity_key, s.scope
FROM stg_rows r CROSS JOIN suppression_list s
WHERE s.key_type = 'phone' AND s.key_hash = r.phone_hash
UNION ALL
SELECT r.identity_key, s.scope
FROM stg_other_key_hashes o
JOIN stg_rows r ON r.row_number = o.row_number
CROSS JOIN suppression_list s
WHERE s.key_type = o.key_type AND s.key_hash = o.key_hash
