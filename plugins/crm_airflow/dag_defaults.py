"""Settings every CRM DAG shares."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Asset, AssetOrTimeSchedule, CronTriggerTimetable

from crm_airflow.inbox_watch import inbox_asset

# The prospects table as an Airflow Asset: ingest DAGs produce it, and the
# DAGs that act on what is held are scheduled on it.
PROSPECTS = Asset(name="crm_prospects", uri="crm://prospects")

START_DATE = datetime(2026, 1, 1)

DEFAULT_ARGS = {
    "owner": "data-team",
    "retries": 2,
    "retry_delay": timedelta(minutes=5),
}

COMMON = {
    "start_date": START_DATE,
    "catchup": False,
    "max_active_runs": 1,
    "default_args": DEFAULT_ARGS,
}


def on_arrival_or(cron: str, kind: str) -> AssetOrTimeSchedule:
    """Run when files arrive in ``inbox/<kind>/`` (a watcher in the triggerer, no
    worker slot held while waiting) and on ``cron`` as well: the timed run does
    the DAG's periodic work (deadline alarms, key re-hashing) and catches
    anything a stopped triggerer missed."""
    return AssetOrTimeSchedule(timetable=CronTriggerTimetable(cron, timezone="UTC"), assets=inbox_asset(kind))


# When each DAG runs (README "Schedules"); cron times are UTC. The nightly jobs
# are spread so they do not share the two cores: minors 01:00, retention 02:00
# (legal holds loaded first), partner exports 04:00 (after retention, so a
# release never counts anyone past retention), requests 06:00 (the deadline
# alarm reaches people at the start of the working day).
SCHEDULES = {
    "sync_suppression_lists": on_arrival_or("@hourly", "suppression"),
    "ingest_research_lists": on_arrival_or("@hourly", "research"),
    "ingest_event_lists": on_arrival_or("@hourly", "events"),
    "ingest_enquiries": on_arrival_or("@hourly", "enquiries"),
    "ingest_applicants": on_arrival_or("@hourly", "applicants"),
    "process_data_subject_requests": on_arrival_or("0 6 * * *", "requests"),
    "review_minors": "0 1 * * *",
    "retention_sweep": "0 2 * * *",
    "partner_aggregate_reports": "0 4 * * *",
    # After every DAG that changes who is held (their crm_prospects outlet).
    "hygiene_report": PROSPECTS,
}
