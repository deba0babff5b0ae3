"""
### process_data_subject_requests

Reads data-subject requests dropped as CSV into `$CRM_DATA_DIR/inbox/requests/`
(`request_id, type, email, received_at`, optional `details` JSON) and carries
them out: `access`/`portability` answers in `exports/dsr/<request_id>.json`,
`rectification` of the fields in `details`, `erasure` (refused while a legal
hold names the person; only a keyed hash stays, on the suppression list),
`restriction` and `objection`.

Each request is tracked in `data_subject_requests` with `due_at` one calendar
month after receipt. The run **fails** while any open request is overdue or
due within a week, listing the request ids: that failure is the alarm.
Runs when a request file arrives (a watcher in the triggerer) and daily at
06:00 UTC, so the alarm reaches people at the start of the working day.
"""

from airflow.sdk import dag, task

from crm_airflow import tasks
from crm_airflow.dag_defaults import COMMON, INBOX_TIMEOUT, PROSPECTS, SCHEDULES


@dag(dag_id="process_data_subject_requests", schedule=SCHEDULES["process_data_subject_requests"],
     tags=["crm", "dsr", "gdpr"],
     doc_md=__doc__, **COMMON)
def process_data_subject_requests():
    process = task(tasks.process_data_subject_requests, task_id="process_requests", outlets=[PROSPECTS],
                   execution_timeout=INBOX_TIMEOUT)
    task(tasks.ensure_schema)() >> process()


process_data_subject_requests()
