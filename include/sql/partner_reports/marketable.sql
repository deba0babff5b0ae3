-- Whether the counted prospect `p` is one marketing may email now
-- (contactable_now): the marketing_prospects view's WHERE (migration 0001)
-- evaluated on the row itself. Joining the view back to prospects scanned the
-- table twice and hashed it (PostgreSQL, 1M prospects: 0.75-2.4 s against
-- 0.3 s for one scan; make bench). tests/test_partner_reports.py checks that
-- this counts exactly the view's people.
p.status = 'active'
AND p.email IS NOT NULL
AND p.email_is_disposable = FALSE
AND p.referred_only = FALSE
AND (p.lawful_basis = 'consent' OR (p.lawful_basis = 'legitimate_interests' AND p.email_is_personal = FALSE))
