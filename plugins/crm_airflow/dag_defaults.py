"""Settings every CRM DAG shares."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import Asset

from crm_airflow.alert_delivery import notify_failure
from crm_airflow.retry_policy import CRM_RETRY_POLICY, MAX_RETRY_DELAY, RETRIES, RETRY_DELAY, RETRY_EXPONENTIAL_BACKOFF

# The prospects table as an Airflow Asset: ingest DAGs produce it, and the
# DAGs that act on what is held are scheduled on it.
PROSPECTS = Asset(name="crm_prospects", uri="crm://prospects")

START_DATE = datetime(2026, 1, 1)

DEFAULT_ARGS = {
    "owner": "data-team",
    "retries": RETRIES,
    "retry_delay": RETRY_DELAY,
    "retry_exponential_backoff": RETRY_EXPONENTIAL_BACKOFF,
    "max_retry_delay": MAX_RETRY_DELAY,
    # Fails at once what a retry cannot fix (a broken policy file, the schema),
    # retries a database that went away: crm_airflow.retry_policy.
    "retry_policy": CRM_RETRY_POLICY,
    # Only once a task has failed for good, never when it is up for a retry.
    "on_failure_callback": notify_failure,
}

COMMON = {
    "start_date": START_DATE,
    "catchup": False,
    "max_active_runs": 1,
    "default_args": DEFAULT_ARGS,
}
