-- A removed person's open minor review is closed: a timeout must never act on
-- the id again.
UPDATE minor_reviews
SET status = 'erased', decided_at = :now, decided_by = 'erasure'
WHERE status = 'open' AND prospect_id IN (SELECT prospect_id FROM erase_targets)
