-- Quarantined rows still held, per day and reason list (codes joined with ';'). Never raw_row.
SELECT DATE(quarantined_at) AS day, reasons, COUNT(*) AS n_rows
FROM quarantine
WHERE quarantined_at >= :start AND quarantined_at < :end
GROUP BY DATE(quarantined_at), reasons
