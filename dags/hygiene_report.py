"""
### hygiene_report

The data team's report, `reports/hygiene_<date>.html` under `$CRM_DATA_DIR`
(the date is the run's logical date; a rerun replaces the file). One
self-contained HTML file that opens offline in any browser: KPI tiles, and per
day over the policy's `hygiene_report.days` (90) what came in, was quarantined
(by reason code), merged, blocked by suppression, removed as minors, sent to
review, anonymised, purged and erased, with the data-subject requests open,
due and overdue; then the latest files' outcomes (loaded, or rejected with the
reason) and the quarantine codes.

Scheduled on the `crm_prospects` Asset, so it runs after every DAG that
changes what is held. It only reads the CRM: counts and codes, never a row, a
name or an address. `python -m crm_hygiene.cli hygiene-report --today D`
writes the same file without Airflow.
"""

from airflow.sdk import dag, task

from crm_airflow import tasks
from crm_airflow.dag_defaults import COMMON, SCHEDULES


@dag(dag_id="hygiene_report", schedule=SCHEDULES["hygiene_report"], tags=["crm", "report"], doc_md=__doc__, **COMMON)
def hygiene_report():
    task(tasks.ensure_schema)() >> task(tasks.hygiene_report, task_id="hygiene_report")()


hygiene_report()
