-- One candidate per person in the file, from one window sort over their rows
-- (newest first): each field's newest non-empty value (the fields and their
-- rule: crm_hygiene.ingest.survivorship, which fills in the braced parts), the
-- first row's source, the earliest and latest sighting, the strongest lawful
-- basis, the earliest notice due date, the strongest minor verdict any row
-- earned and the signals behind it.
CREATE TEMPORARY TABLE stg_candidates AS
WITH ranked AS MATERIALIZED (
    -- Only what a candidate is made of: the sort carries every column it is given.
    SELECT identity_key, {row_fields}, source, basis_rank, seen_at, notice_due_at,
           referred_only, minor_verdict, minor_signals,
           {newest_first} AS newest_first, COUNT(*) OVER w AS n_rows
    FROM stg_rows
    -- Byte order is enough to group a person's rows, and cheaper to sort by.
    WINDOW w AS (PARTITION BY BYTEWISE(identity_key) ORDER BY seen_at DESC, row_number DESC
                 ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
)
-- Most people have one row in a file: it is their candidate as it stands.
SELECT identity_key, {row_fields},
       source, basis_rank, seen_at AS first_seen_at, seen_at AS last_contact_at, notice_due_at,
       referred_only, n_rows, minor_verdict,
       CASE WHEN minor_verdict > 0 THEN minor_signals END AS minor_signals,
       CAST('admit' AS VARCHAR(32)) AS admission,
       CAST(NULL AS VARCHAR(64)) AS admission_reason
FROM ranked
WHERE n_rows = 1
UNION ALL
-- The others are folded field by field.
SELECT identity_key, {row_fields},
       source, basis_rank, first_seen_at, last_contact_at, notice_due_at,
       referred_only, n_rows, minor_verdict,
       CASE WHEN SUBSTR(strongest_signals, 2, 1) = 'v' THEN SUBSTR(strongest_signals, 3) END,
       CAST('admit' AS VARCHAR(32)),
       CAST(NULL AS VARCHAR(64))
FROM (
    SELECT identity_key,
           {folded_fields},
           -- The oldest row's: where the person first came from.
           SUBSTR(MAX(newest_first || source), {value_start}) AS source,
           MIN(basis_rank) AS basis_rank, MIN(seen_at) AS first_seen_at, MAX(seen_at) AS last_contact_at,
           MIN(notice_due_at) AS notice_due_at, MIN(referred_only) AS referred_only, COUNT(*) AS n_rows,
           MAX(minor_verdict) AS minor_verdict,
           -- The strongest verdict (a one-digit number), then 'v' and the rule names of a
           -- row with it: the greatest of them, as MAX(minor_signals) over those rows would give.
           MAX(CASE WHEN minor_verdict > 0 THEN CAST(minor_verdict AS TEXT) || COALESCE('v' || minor_signals, '') END)
               AS strongest_signals
    FROM ranked
    WHERE n_rows > 1
    GROUP BY identity_key
) AS folded
