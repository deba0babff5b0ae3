"""Who is acting and as of when: passed to every step that writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time


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

    @property
    def today_start(self) -> datetime:
        """Midnight of the logical date: the clock for anything the policy times."""
        return datetime.combine(self.today, time())
