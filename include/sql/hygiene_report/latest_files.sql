-- The newest processed drops up to the end of the report's day: counts, never rows.
SELECT processed_at, kind, dag_id, sha256, rows_read, rows_quarantined, rows_admitted, rows_blocked,
       prospects_created
FROM ingested_files
WHERE processed_at < :end
ORDER BY processed_at DESC, file_id DESC
LIMIT :limit
