"""Job titles generalised to a seniority band for anonymised prospects.

The bands and their patterns are the policy's (``retention.anonymise``). Only
the distinct titles of the rows being anonymised are banded here, in Python
(word-boundary patterns SQL cannot write portably); the mapping is staged in
``ret_bands`` and joined set-based by ``anonymise_new_ids.*.sql``.
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


def stage_bands(conn: Connection, bands: SeniorityBands) -> int:
    """``ret_bands`` (job_title, band) for every distinct title among the due rows not held."""
    conn.execute(text("DROP TABLE IF EXISTS ret_bands"))
    conn.execute(text("CREATE TEMPORARY TABLE ret_bands (job_title TEXT PRIMARY KEY, band TEXT)"))
    titles = conn.execute(text(
        "SELECT DISTINCT job_title FROM ret_due WHERE held = 0 AND job_title IS NOT NULL")).scalars().all()
    bulk_insert(conn, "ret_bands", ("job_title", "band"), [(t, bands.band(t)) for t in titles])
    return len(titles)
