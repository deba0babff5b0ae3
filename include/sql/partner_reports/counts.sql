-- Counts of the prospects a partner report may count, by its dimensions, as of
-- the end of the period: active or anonymised only (never applicants, who are
-- not in this table; never people under minor review, restricted or suppressed;
-- erased people are gone). The placeholders in braces below are constants of
-- crm_hygiene.partner_reports.counts, chosen by the policy's validated names
-- (none in this comment: str.format fills them wherever they are, and a
-- multi-line one would end the comment); MONTH_LABEL is a
-- crm_hygiene.sqlmacros macro.
SELECT {dimensions}, {measures}
FROM prospects p
WHERE p.status IN ('active', 'anonymised')
  AND p.first_seen_at < :period_end
GROUP BY {group_by}
