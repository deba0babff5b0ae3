-- Drops processed per day and kind, with their row counts (ingested_files holds counts only).
-- merged = admitted - created: rows folded into a person already held or seen in the same file.
SELECT DATE(processed_at) AS day, kind, COUNT(*) AS files,
       COALESCE(SUM(rows_read), 0) AS rows_read,
       COALESCE(SUM(rows_quarantined), 0) AS rows_quarantined,
       COALESCE(SUM(rows_admitted), 0) AS rows_admitted,
       COALESCE(SUM(rows_blocked), 0) AS rows_blocked,
       COALESCE(SUM(prospects_created), 0) AS prospects_created
FROM ingested_files
WHERE processed_at >= :start AND processed_at < :end
GROUP BY DATE(processed_at), kind
