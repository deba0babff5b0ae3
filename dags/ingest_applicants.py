"""
### ingest_applicants

Reads job applicants dropped as CSV into `$CRM_DATA_DIR/inbox/applicants/`
(`applicant_id, first_name, last_name, email, phone, applied_at, status,
decided_at`, optional `retain_for_future_roles, dispute`; `status` is
`pending`, `hired` or `rejected`) into the `applicants` table.

Applicants are kept apart from prospects (privacy policy, "Job applicants"):
never in `prospects` or `marketing_prospects`, never matched or merged with a
prospect. A later drop with the same `applicant_id` updates that applicant.
Bad rows are quarantined with their reasons; a file that cannot be read is
moved to `inbox/applicants/rejected/` with a `.reason.txt` and the run fails.
Counts only in `audit_log`. Runs when a file arrives in the inbox (a watcher in
the triggerer) and hourly.
"""

from airflow.sdk import dag, task

from crm_airflow import tasks
from crm_airflow.dag_defaults import COMMON, INBOX_TIMEOUT, SCHEDULES


@dag(dag_id="ingest_applicants", schedule=SCHEDULES["ingest_applicants"], tags=["crm", "applicants", "gdpr"],
     doc_md=__doc__, **COMMON)
def ingest_applicants():
    # No crm_prospects outlet: applicants are not prospects.
    ingest = task(tasks.ingest_applicants, task_id="ingest_applicants", execution_timeout=INBOX_TIMEOUT)
    task(tasks.ensure_schema)() >> ingest()


ingest_applicants()
