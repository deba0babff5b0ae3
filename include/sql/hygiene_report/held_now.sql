-- What the CRM holds at the moment the report is written.
SELECT (SELECT COUNT(*) FROM prospects) AS prospects_held,
       (SELECT COUNT(*) FROM marketing_prospects) AS marketable,
       (SELECT COUNT(*) FROM prospects WHERE status = 'suppressed') AS suppressed,
       (SELECT COUNT(*) FROM minor_reviews WHERE status = 'open') AS reviews_open,
       (SELECT MIN(queued_at) FROM minor_reviews WHERE status = 'open') AS oldest_review_queued_at
