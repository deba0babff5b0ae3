-- A new id for each prospect to anonymise, above every id ever handed out
-- (AUTOINCREMENT's counter), in random order so the new ids keep nothing of
-- the old ones' order; each with the seniority band of its job title.
INSERT INTO ret_anon (old_id, new_id, band)
SELECT d.id,
       (SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = 'prospects')
         + ROW_NUMBER() OVER (ORDER BY random()),
       b.band
FROM ret_due d
LEFT JOIN ret_bands b ON b.job_title = d.job_title
WHERE d.held = 0;
UPDATE sqlite_sequence SET seq = (SELECT MAX(new_id) FROM ret_anon)
WHERE name = 'prospects' AND EXISTS (SELECT 1 FROM ret_anon)
