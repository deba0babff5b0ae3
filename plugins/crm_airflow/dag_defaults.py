"""Settings every CRM DAG shares."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Asset

from crm_airflow.alert_delivery import notify_failure
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
