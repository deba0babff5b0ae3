"""Job titles of the prospects being anonymised, banded (crm_hygiene.seniority).

Only the distinct titles of the due rows not held are banded; the mapping is
staged in ``ret_bands`` and joined set-based by ``anonymise_new_ids.*.sql``.
"""

from __future__ import annotations

from sqlalchemy import Connection

from crm_hygiene.seniority import SeniorityBands
from crm_hygiene.seniority import stage_bands as _stage

_DUE_TITLES = "SELECT DISTINCT job_title FROM ret_due WHERE held = 0 AND job_title IS NOT NULL"


def stage_bands(conn: Connection, bands: SeniorityBands) -> int:
    """``ret_bands`` (job_title, band) for every distinct title among the due rows not held."""
    return _stage(conn, bands, "ret_bands", _DUE_TITLES)
