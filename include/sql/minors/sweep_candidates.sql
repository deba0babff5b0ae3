-- Everyone held who is neither waiting for a review nor already judged an
-- adult, with the fields the rules read (one youth-event name from their sources).
SELECT p.prospect_id, p.job_title, p.company, p.email,
       (SELECT MAX(s.source_detail) FROM prospect_sources s
        WHERE s.prospect_id = p.prospect_id AND s.source = 'event') AS event_name
FROM prospects p
WHERE p.status IN ('active', 'restricted', 'suppressed')
  AND NOT EXISTS (SELECT 1 FROM minor_reviews r
                  WHERE r.prospect_id = p.prospect_id AND r.status IN ('open', 'adult'))
