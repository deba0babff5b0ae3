-- Prospects whose last contact is past retention and not yet anonymised;
-- held = an active legal hold names them (by the keyed hash of their email).
INSERT INTO ret_due (id, key, held)
SELECT p.prospect_id, NULL,
       HELD_HASH(p.email_hash)
FROM prospects p
WHERE p.status <> 'anonymised'
  AND p.last_contact_at < :cutoff
