-- Prospects deleted (when the policy's action for them is delete): the row and
-- everything linked to it. Request records keep their ids and dates only.
DELETE FROM prospect_sources WHERE prospect_id IN (SELECT id FROM ret_due WHERE held = 0);
DELETE FROM minor_reviews WHERE prospect_id IN (SELECT id FROM ret_due WHERE held = 0);
UPDATE data_subject_requests SET prospect_id = NULL WHERE prospect_id IN (SELECT id FROM ret_due WHERE held = 0);
DELETE FROM prospects WHERE prospect_id IN (SELECT id FROM ret_due WHERE held = 0)
