"""
### review_minors

Keeps children out of the CRM after admission (privacy policy, "Children").
Every ingest already removes a person whose date of birth or age is under 16
and holds a *likely* minor (school and pupil signals, no age) as
`minor_review`, out of every use, with an open row in `minor_reviews`. Daily
at 01:00 UTC, this DAG:

1. applies decisions dropped as CSV in `$CRM_DATA_DIR/inbox/reviews/`
   (`prospect_id, decision` with decision `adult` or `minor`);
2. re-scores everyone held with the policy's current rules, queueing new likely minors;
3. removes people whose review stayed undecided past the policy's limit (the safe default);
4. when triggered with `ask_in_airflow` on, asks a person about each open
   review (at most `max_items`, oldest first) with Airflow's human-in-the-loop
   operator (**Browse → Required Actions**; GDPR Art. 22 human intervention).
   The question shows ids and rule names only: look the person up in the CRM by
   `prospect_id`. `minor` removes them, `adult` returns them to use, `skip`
   (also the answer when nobody responds within two days) leaves the review open.

Counts are in `audit_log`; nothing personal reaches the logs or XCom.
"""

from datetime import timedelta

from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import Param, dag, task

from crm_airflow import tasks
from crm_airflow.dag_defaults import COMMON, PROSPECTS, SCHEDULES, WHOLE_CRM_TIMEOUT


@dag(dag_id="review_minors", schedule=SCHEDULES["review_minors"], tags=["crm", "minors", "gdpr"], doc_md=__doc__,
     params={"ask_in_airflow": Param(False, type="boolean"),
             "max_items": Param(20, type="integer", minimum=1, maximum=100)},
     **COMMON)
def review_minors():
    review = task(tasks.review_minors, task_id="review_minors", outlets=[PROSPECTS],
                  execution_timeout=WHOLE_CRM_TIMEOUT)
    ask = task(tasks.open_minor_reviews, task_id="open_reviews")(
        ask="{{ params.ask_in_airflow }}", max_items="{{ params.max_items }}")
    answers = HITLOperator.partial(
        task_id="decide", options=["adult", "minor", "skip"], defaults=["skip"],
        response_timeout=timedelta(days=2),
    ).expand_kwargs(ask.map(tasks.hitl_question))
    task(tasks.ensure_schema)() >> review() >> ask
    task(tasks.apply_reviewer_answers, task_id="apply_decisions", execution_timeout=WHOLE_CRM_TIMEOUT)(ask, answers.output)


review_minors()
