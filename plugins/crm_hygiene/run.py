"""Who is acting and as of when: passed to every step that writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime


def utc_now() -> datetime:
    """Naive UTC, the form every timestamp column holds on both databases."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class RunInfo:
    dag_id: str
    run_id: str
    # "Today" for every clock: the DAG run's logical date (contract).
    today: date
    started_at: datetime = field(default_factory=utc_now)
