"""A partner report's counts, in SQL: one GROUP BY over the prospects that may be counted.

The SQL's shape is generated from the report's dimension and measure names
(validated by the policy model against the closed lists below), never from
data; the one value, the period's end, is bound.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import Connection, DateTime, bindparam, text

from crm_hygiene.db import read_sql, use_large_work_mem
from crm_hygiene.policy import OTHER_CATEGORY, Policy
from crm_hygiene.seniority import SeniorityBands, stage_bands
from crm_hygiene.sqlmacros import expand_macros

Key = tuple[str, ...]

DIMENSION_SQL = {
    "country": "COALESCE(p.country, 'unknown')",
    "source": "p.source",
    "lawful_basis": "p.lawful_basis",
    # An anonymised row's title is already its band (the retention sweep put it there): banding
    # it again would move it ('executive' reads as a professional's title, 'entry' matches nothing).
    "seniority_band": "COALESCE(CASE WHEN p.status = 'anonymised' THEN p.job_title ELSE b.band END, 'unknown')",
    "first_contact_month": "MONTH_LABEL(p.first_seen_at)",
}
MEASURE_SQL = {
    "prospects_held": "COUNT(*)",
    # marketable.sql: the marketing_prospects view's condition, on the counted row (one scan)
    "contactable_now": "SUM(CASE WHEN ({marketable}) THEN 1 ELSE 0 END)",
}
_JOIN_BANDS = "LEFT JOIN rep_bands b ON b.job_title = p.job_title"
_TITLES = "SELECT DISTINCT job_title FROM prospects WHERE job_title IS NOT NULL AND status = 'active'"


def count(conn: Connection, policy: Policy, dimensions: tuple[str, ...], measures: tuple[str, ...],
          period_end: datetime) -> dict[str, dict[Key, int]]:
    """measure -> {dimension values: count}, for people first seen before `period_end`."""
    joins = []
    if "seniority_band" in dimensions:
        stage_bands(conn, SeniorityBands(policy.retention.anonymise), "rep_bands", _TITLES)
        joins.append(_JOIN_BANDS)
    use_large_work_mem(conn)
    marketable = read_sql("partner_reports/marketable.sql")
    sql = read_sql("partner_reports/counts.sql").format(
        dimensions=", ".join(f"{DIMENSION_SQL[d]} AS d{i}" for i, d in enumerate(dimensions)),
        measures=", ".join(f"{MEASURE_SQL[m].format(marketable=marketable)} AS {m}" for m in measures),
        joins="\n".join(joins),
        group_by=", ".join(DIMENSION_SQL[d] for d in dimensions),
    )
    statement = text(expand_macros(sql, conn.dialect.name)).bindparams(bindparam("period_end", type_=DateTime))
    found: dict[str, dict[Key, int]] = {m: {} for m in measures}
    for row in conn.execute(statement, {"period_end": period_end}):
        key = tuple(str(v) for v in row[:len(dimensions)])
        for i, measure in enumerate(measures):
            found[measure][key] = int(row[len(dimensions) + i] or 0)
    return found


def fold_into_categories(counts: Mapping[Key, int], dimensions: tuple[str, ...],
                         categories: Mapping[str, tuple[str, ...]]) -> dict[Key, int]:
    """Counts re-keyed onto the policy's fixed categories: a value not listed counts as 'other'."""
    folded: dict[Key, int] = {}
    for key, value in counts.items():
        fixed = tuple(v if v in categories[d] else OTHER_CATEGORY for d, v in zip(dimensions, key, strict=True))
        folded[fixed] = folded.get(fixed, 0) + value
    return folded
