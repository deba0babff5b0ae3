-- How many held records a caller's selection names (the placeholder: a query
-- from include/sql, never input), before deciding to erase at all.
SELECT COUNT(*) FROM prospects WHERE prospect_id IN (
    {prospect_ids_sql}
)
