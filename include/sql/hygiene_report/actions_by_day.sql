-- Audit entries of the actions the report charts, per day, action and reason
-- (audit_log holds counts and ids only; a reason is the code's own text).
SELECT DATE(occurred_at) AS day, action, reason, COUNT(*) AS entries,
       COALESCE(SUM(rows_affected), 0) AS rows_affected
FROM audit_log
WHERE occurred_at >= :start AND occurred_at < :end AND action IN :actions
GROUP BY DATE(occurred_at), action, reason
