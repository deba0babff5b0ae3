-- Each DAG's latest run in audit_log (the run that wrote its newest row), and
-- what that run recorded: per action, how many audit rows and the sum of their
-- rows_affected. Counts only: subject_ref, reason and details are not read.
WITH newest AS (
    SELECT dag_id, MAX(audit_id) AS audit_id
    FROM audit_log
    WHERE dag_id IS NOT NULL
    GROUP BY dag_id
), latest AS (
    SELECT a.dag_id, a.run_id
    FROM audit_log a
    JOIN newest n ON n.audit_id = a.audit_id
)
SELECT a.dag_id, a.run_id, a.action,
       COUNT(*) AS entries,
       COALESCE(SUM(a.rows_affected), 0) AS rows_affected,
       MIN(a.occurred_at) AS first_at,
       MAX(a.occurred_at) AS last_at
FROM audit_log a
JOIN latest l ON l.dag_id = a.dag_id AND l.run_id = a.run_id
GROUP BY a.dag_id, a.run_id, a.action
ORDER BY a.dag_id, a.action
