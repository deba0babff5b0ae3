"""
### partner_aggregate_reports

Writes the aggregate exports partners receive (privacy policy, "Aggregate
Information": used "in a collective manner" that "does not identify you
individually in any way"; contract promise 5), as the policy file's `partners`
section says: each report's dimensions, measures, cell size and schedule.

Daily at 04:00 UTC (after the retention sweep); a report is released on the run dates its schedule names (`@monthly`:
the 1st), or every report when triggered with `every_report` on. For each:
counts in SQL over prospects that may be counted (active or anonymised), then
primary and complementary suppression, the previous release's pattern carried
forward, an attacker's audit (linear programmes, HiGHS) that every suppressed
cell stays wider than the policy's interval, and a Great Expectations gate on
the file itself. Partners in differential-privacy mode get OpenDP noise, with
their budget kept in the CRM database. Output:
`exports/partners/<partner>/<report>_<date>.csv` and `manifest.json`. A period
already released is written again from the same bytes, never recomputed.
"""

from airflow.sdk import Param, dag, task

from crm_airflow import tasks
from crm_airflow.dag_defaults import COMMON, SCHEDULES


@dag(dag_id="partner_aggregate_reports", schedule=SCHEDULES["partner_aggregate_reports"],
     tags=["crm", "partners", "gdpr"], doc_md=__doc__,
     params={"every_report": Param(False, type="boolean",
                                   description="release every report now, not only those due today")},
     **COMMON)
def partner_aggregate_reports():
    # No crm_prospects outlet: it reads the CRM and changes nothing in it.
    release = task(tasks.partner_aggregate_reports, task_id="release_reports")
    task(tasks.ensure_schema)() >> release(every_report="{{ params.every_report }}")


partner_aggregate_reports()
