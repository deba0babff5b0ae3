-- The newest drops rejected (a reason a person can act on) or set aside (an unforeseen
-- error's type): the reason never quotes a cell.
SELECT occurred_at, action, dag_id, subject_ref, reason
FROM audit_log
WHERE action IN ('file_rejected', 'file_set_aside') AND occurred_at < :end
ORDER BY occurred_at DESC, audit_id DESC
LIMIT :limit
