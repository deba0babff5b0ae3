-- Data-subject requests that were open at some point of the window, by the days they were
-- received, fall due and were completed (or refused); NULL completed_day = still open.
SELECT DATE(received_at) AS received_day, DATE(due_at) AS due_day, DATE(completed_at) AS completed_day,
       COUNT(*) AS n
FROM data_subject_requests
WHERE received_at < :end AND (completed_at IS NULL OR completed_at >= :start)
GROUP BY DATE(received_at), DATE(due_at), DATE(completed_at)
