"""Settings every CRM DAG shares."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Asset

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
