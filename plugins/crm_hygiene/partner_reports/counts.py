"""A partner report's counts, in SQL: one GROUP BY over the prospects that may be counted.

The SQL's shape is generated from the report's dimension and measure names
(validated by the policy model against the closed lists below), never from
data; the one value, the period's end, is bound. A seniority band is counted
by job title in that same scan and banded here: the policy's patterns are
regular expressions SQL cannot write portably, and banding the counted titles
costs no second scan of ``prospects`` to stage them (make bench).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from functools import cache

from sqlalchemy import Connection, DateTime, Row, bindparam, text

from crm_hygiene.db import read_sql, use_large_work_mem
from crm_hygiene.policy import OTHER_CATEGORY, Policy
from crm_hygiene.seniority import SeniorityBands
from crm_hygiene.sqlmacros import expand_macros

Key = tuple[str, ...]

# The columns each dimension is grouped by.
DIMENSION_SQL = {
    "country": ("COALESCE(p.country, 'unknown')",),
    "source": ("p.source",),
    "lawful_basis": ("p.lawful_basis",),
    # Banded by _dimension_values. An anonymised row's title is already its band (the retention sweep
    # put it there): banding it again would move it ('executive' reads as a professional's title).
    "seniority_band": ("p.job_title", "p.status"),
    "first_contact_month": ("MONTH_LABEL(p.first_seen_at)",),
}
MEASURE_SQL = {
    "prospects_held": "COUNT(*)",
    # marketable.sql: the marketing_prospects view's condition, on the counted row (one scan)
    "contactable_now": "SUM(CASE WHEN ({marketable}) THEN 1 ELSE 0 END)",
}


def count(conn: Connection, policy: Policy, dimensions: tuple[str, ...], measures: tuple[str, ...],
          period_end: datetime) -> dict[str, dict[Key, int]]:
    """measure -> {dimension values: count}, for people first seen before `period_end`."""
    columns = [column for d in dimensions for column in DIMENSION_SQL[d]]
    use_large_work_mem(conn)
    marketable = read_sql("partner_reports/marketable.sql")
    sql = read_sql("partner_reports/counts.sql").format(
        dimensions=", ".join(f"{column} AS d{i}" for i, column in enumerate(columns)),
        measures=", ".join(f"{MEASURE_SQL[m].format(marketable=marketable)} AS {m}" for m in measures),
        group_by=", ".join(columns),
    )
    statement = text(expand_macros(sql, conn.dialect.name)).bindparams(bindparam("period_end", type_=DateTime))
    key_of = _dimension_values(policy, dimensions)
    found: dict[str, dict[Key, int]] = {m: {} for m in measures}
    for row in conn.execute(statement, {"period_end": period_end}):
        key = key_of(row)
        for i, measure in enumerate(measures):
            found[measure][key] = found[measure].get(key, 0) + int(row[len(columns) + i] or 0)
    return found


def _dimension_values(policy: Policy, dimensions: tuple[str, ...]) -> Callable[[Row], Key]:
    """A counted row's dimension values from its grouped columns (a title and status become a band)."""
    band = cache(SeniorityBands(policy.retention.anonymise).band)  # each distinct title once

    def key_of(row: Row) -> Key:
        key, i = [], 0
        for dimension in dimensions:
            if dimension == "seniority_band":
                title, status = row[i], row[i + 1]
                key.append("unknown" if title is None else title if status == "anonymised" else band(title))
            else:
                key.append(str(row[i]))
            i += len(DIMENSION_SQL[dimension])
        return tuple(key)

    return key_of


def fold_into_categories(counts: Mapping[Key, int], dimensions: tuple[str, ...],
                         categories: Mapping[str, tuple[str, ...]]) -> dict[Key, int]:
    """Counts re-keyed onto the policy's fixed categories: a value not listed counts as 'other'."""
    folded: dict[Key, int] = {}
    for key, value in counts.items():
        fixed = tuple(v if v in categories[d] else OTHER_CATEGORY for d, v in zip(dimensions, key, strict=True))
        folded[fixed] = folded.get(fixed, 0) + value
    return folded
