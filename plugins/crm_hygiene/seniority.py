"""Job titles generalised to a seniority band (the policy's ``seniority_bands``).

Used where a title is too close to a person to keep or publish: anonymised
prospects keep only their band, partner aggregates count by band. Bands are
matched in Python (word-boundary patterns SQL cannot write portably) over the
distinct titles a query selects, and staged for set-based joins.
"""

from __future__ import annotations

import re

from sqlalchemy import Connection, text

from crm_hygiene.bulk import bulk_insert
from crm_hygiene.policy import Anonymise


class SeniorityBands:
    def __init__(self, rules: Anonymise):
        self._bands = [(b.band, [re.compile(p, re.IGNORECASE) for p in b.patterns]) for b in rules.seniority_bands]
        self._other = rules.other_band

    def band(self, job_title: str) -> str:
        for band, patterns in self._bands:
            if any(p.search(job_title) for p in patterns):
                return band
        return self._other


def stage_bands(conn: Connection, bands: SeniorityBands, table: str, titles_sql: str) -> int:
    """A temporary `table` (job_title, band) for every distinct title `titles_sql`
    selects (both constants of the caller's code). Returns the titles staged."""
    conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
    conn.execute(text(f"CREATE TEMPORARY TABLE {table} (job_title TEXT PRIMARY KEY, band TEXT)"))
    titles = conn.execute(text(titles_sql)).scalars().all()
    bulk_insert(conn, table, ("job_title", "band"), [(t, bands.band(t)) for t in titles])
    return len(titles)
