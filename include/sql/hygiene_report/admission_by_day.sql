-- People turned away at admission, per day and gate, and reviews decided 'adult', from the
-- counts the ingest and the review runs put in audit_log.details (JSON written by write_audit).
-- JSON_INT(column, key) is the one expression the two databases spell differently.
SELECT DATE(occurred_at) AS day,
       COALESCE(SUM(JSON_INT(details, blocked_suppressed)), 0) AS blocked_suppressed,
       COALESCE(SUM(JSON_INT(details, blocked_minor_certain)), 0) AS blocked_minor_certain,
       COALESCE(SUM(JSON_INT(details, blocked_held_out_of_use)), 0) AS blocked_held_out_of_use,
       COALESCE(SUM(CASE WHEN action = 'minor_review_decisions' THEN JSON_INT(details, adult) END), 0)
           AS reviews_cleared_adult
FROM audit_log
WHERE occurred_at >= :start AND occurred_at < :end
  AND action IN ('ingest_file', 'minor_review_decisions')
GROUP BY DATE(occurred_at)
