-- Held people named by an erasing entry (reason erasure): deleted, not kept.
SELECT prospect_id FROM stg_named_prospects WHERE reason IN :erasing
