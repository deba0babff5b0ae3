"""
### retention_sweep

Makes "nothing is kept past its retention period unless a legal hold names it"
(contract promise 4) true every day, as of the run's logical date. The
classes, their clocks, periods and actions are the policy file's `retention`
section (see the README's retention table): prospects are anonymised six years
after the last contact; applicants, quarantined rows, drop files, answer
files, decided reviews, a child's suppression entries, released holds, request
records and the audit log are deleted on their own clocks.

1. Loads pending legal holds from `$CRM_DATA_DIR/inbox/legal_holds/*.csv`
   (`email, case_ref, placed_at`, optional `released_at`). A held person is
   kept; each refusal is in `audit_log`.
2. Plans, and stops before changing anything if a sweep would remove more than
   the policy's share (20%) of a table, unless triggered with `force` on.
3. Acts one class at a time, one transaction each, then re-checks and fails if
   anything past its period and not held remains.

Trigger with `dry_run` on to see what would happen: the report
`reports/retention_<date>.json` is written and nothing else changes. Counts
only in the report, `audit_log`, the task log and XCom.
Daily at 02:00 UTC.
"""

from airflow.sdk import Param, dag, task

from crm_airflow import tasks
from crm_airflow.dag_defaults import COMMON, PROSPECTS, SCHEDULES, WHOLE_CRM_TIMEOUT


@dag(dag_id="retention_sweep", schedule=SCHEDULES["retention_sweep"], tags=["crm", "retention", "gdpr"], doc_md=__doc__,
     params={"dry_run": Param(False, type="boolean", description="report what would happen; change nothing"),
             "force": Param(False, type="boolean",
                            description="act even if the circuit breaker would stop the sweep")},
     **COMMON)
def retention_sweep():
    sweep = task(tasks.retention_sweep, task_id="retention_sweep", outlets=[PROSPECTS],
                 execution_timeout=WHOLE_CRM_TIMEOUT)
    task(tasks.ensure_schema)() >> sweep(dry_run="{{ params.dry_run }}", force="{{ params.force }}")


retention_sweep()
