"""Settings every CRM DAG shares."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Asset, AssetOrTimeSchedule, CronTriggerTimetable

from crm_airflow.alert_delivery import notify_failure
from crm_airflow.inbox_watch import inbox_asset
from crm_airflow.retry_policy import CRM_RETRY_POLICY, MAX_RETRY_DELAY, RETRIES, RETRY_DELAY, RETRY_EXPONENTIAL_BACKOFF

# The prospects table as an Airflow Asset: ingest DAGs produce it, and the
# DAGs that act on what is held are scheduled on it.
PROSPECTS = Asset(name="crm_prospects", uri="crm://prospects")

START_DATE = datetime(2026, 1, 1)

# How long a task may run (README "Alerts and retries" has the table). The
# default fits every task whose work is bounded: a schema migration, reading
# counts for a report, a partner release (1.3-2.9 s over 1M prospects, make bench).
DEFAULT_TIMEOUT = timedelta(minutes=30)
# A task draining an inbox nobody bounds: a 1M-row file takes 1-3 minutes to
# ingest (make bench), an erasure rewrites every archived drop naming the
# person. Each file is its own transaction, so a timed-out run's retry goes on
# from there; an hour keeps a stuck hourly run from blocking the next ones long.
INBOX_TIMEOUT = timedelta(hours=1)
# A daily task over everything held (the retention sweep, re-scoring everyone
# for minors): 9-20 s per million prospects for the sweep here, grown generously.
WHOLE_CRM_TIMEOUT = timedelta(hours=2)

DEFAULT_ARGS = {
    "owner": "data-team",
    "retries": RETRIES,
    "retry_delay": RETRY_DELAY,
    "retry_exponential_backoff": RETRY_EXPONENTIAL_BACKOFF,
    "max_retry_delay": MAX_RETRY_DELAY,
    # Fails at once what a retry cannot fix (a broken policy file, the schema),
    # retries a database that went away: crm_airflow.retry_policy.
    "retry_policy": CRM_RETRY_POLICY,
    "execution_timeout": DEFAULT_TIMEOUT,
    # Only once a task has failed for good, never when it is up for a retry.
    "on_failure_callback": notify_failure,
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
